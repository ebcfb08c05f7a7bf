import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("CASE_THREADS_CORPUS") or ROOT.parent / "shared" / "corpus")

# Figures the corpus tests want printed at the end of every run (precision/recall).
REPORT: list[str] = []


@pytest.fixture
def corpus_dir(request):
	if not (CORPUS / "index.csv").exists():
		message = f"mail corpus not found at {CORPUS} (set CASE_THREADS_CORPUS)"
		if os.environ.get("CI"):
			pytest.fail(message)
		# scripts/test lists every test that could not run at the end of the run.
		if os.environ.get("CASE_THREADS_NOT_RUN_FILE"):
			with open(os.environ["CASE_THREADS_NOT_RUN_FILE"], "a") as f:
				f.write(f"tests/{request.node.nodeid.split('tests/')[-1]}: {message}\n")
		pytest.skip("!! " + message)
	return CORPUS


def pytest_terminal_summary(terminalreporter):
	for line in REPORT:
		terminalreporter.write_line(line)
