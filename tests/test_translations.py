"""F18: every label and message of the app has a Spanish and a French translation."""

import csv
import json
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "case_threads"
PY_STRING = re.compile(r'(?<![\w.])_\(\s*"((?:[^"\\]|\\.)*)"')
JS_STRING = re.compile(r'__\(\s*"((?:[^"\\]|\\.)*)"')


def source_strings():
	found = set()
	for path in APP.rglob("*.py"):
		if "tests" not in path.parts and "core" not in path.parts:
			found.update(PY_STRING.findall(path.read_text()))
	for path in APP.rglob("*.js"):
		found.update(JS_STRING.findall(path.read_text()))
	for path in (APP / "case_threads" / "doctype").glob("*/*.json"):
		doctype = json.loads(path.read_text())
		found.add(doctype["name"])
		for field in doctype["fields"]:
			found.update(filter(None, (field.get("label"), field.get("description"))))
			if field["fieldtype"] == "Select":
				found.update(filter(None, (field.get("options") or "").split("\n")))
	return found


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_every_string_is_translated(lang):
	with open(APP / "translations" / f"{lang}.csv", newline="") as f:
		translated = {row[0]: row[1] for row in csv.reader(f) if len(row) >= 2 and row[1].strip()}
	missing = sorted(source_strings() - set(translated))
	assert not missing, f"{lang}.csv lacks: {missing}"
	placeholders = [
		s for s, t in translated.items() if set(re.findall(r"\{\w*\}", s)) != set(re.findall(r"\{\w*\}", t))
	]
	assert not placeholders, f"{lang}.csv changes placeholders in: {placeholders}"
