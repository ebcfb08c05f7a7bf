"""The shared corpus of real mail: every file parses, and classification agrees with index.csv."""

import csv
import email
import email.policy
import os
import re
import time
from pathlib import Path

import pytest
from conftest import CORPUS, REPORT

from case_threads.core import MessageClass, Outcome, classify, decide, parse_message

MIN_PRECISION = 0.95
MSGID = re.compile(r"<([^<>\s]+@[^<>\s]+)>")

# Labels in index.csv we judge wrong after reading the file (the index's heuristics say so too).
EXCLUDED = {
	"flufl-bounce/bounce_02.txt": "bounce from an SMTP mail service ('Returned Mail - Error During Delivery'), labelled new_request",
	"flufl-bounce/simple_21.txt": "MAILER-DAEMON delay notice ('message has not yet been delivered'), labelled new_request",
	"flufl-bounce/simple_27.txt": "MDaemon 'User unknown!' delivery failure, labelled malformed",
}


def corpus_rows():
	index = CORPUS / "index.csv"
	if not index.exists():
		return []
	with open(index, newline="") as f:
		return list(csv.DictReader(f))


ROWS = corpus_rows()


def oracle(raw):
	"""What the standard library's modern parser reads from the same bytes (an independent reading)."""
	if raw.startswith(b"From "):
		raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
	found = {}
	try:
		mime = email.message_from_bytes(raw, policy=email.policy.default)
	except Exception:
		# The library cannot read it at all: parse_message must still give a Message (never raises).
		return found
	try:
		ids = MSGID.findall(str(mime["Message-ID"] or ""))
		if len(ids) == 1:
			found["message_id"] = ids[0]
	except Exception:
		pass
	try:
		sender = mime["From"]
		if sender is not None and len(sender.addresses) == 1 and "@" in sender.addresses[0].addr_spec:
			found["from_addr"] = sender.addresses[0].addr_spec.lower()
	except Exception:
		pass
	try:
		raw_subject = mime.get("Subject", failobj=None)
		# Where the library gives up on a byte (U+FFFD), the core's own guess is allowed to differ.
		if raw_subject is not None and not raw_subject.defects and "\ufffd" not in str(raw_subject):
			found["subject"] = " ".join(str(raw_subject).split())
	except Exception:
		pass
	return found


@pytest.mark.parametrize("path", [row["path"] for row in ROWS] or ["<corpus missing>"])
def test_every_file_parses(corpus_dir, path):
	"""The core's reading of each file agrees with the standard library's on the fields it can read."""
	raw = (corpus_dir / path).read_bytes()
	message = parse_message(raw)
	expected = oracle(raw)
	got = {key: getattr(message, key) for key in expected}
	assert got == expected


def test_threaded_replies_have_thread_ids(corpus_dir):
	threaded = [row for row in ROWS if row["category"] == "reply_threaded"]
	missing = [
		row["path"]
		for row in threaded
		if not (lambda m: m.in_reply_to or m.references)(
			parse_message((corpus_dir / row["path"]).read_bytes())
		)
	]
	assert threaded and not missing


def precision_recall(pairs, label):
	tp = sum(1 for expected, got in pairs if got == label and expected == label)
	fp = sum(1 for expected, got in pairs if got == label and expected != label)
	fn = sum(1 for expected, got in pairs if got != label and expected == label)
	return tp / ((tp + fp) or 1), tp / ((tp + fn) or 1), tp, fp, fn


def test_classification_precision_and_recall(corpus_dir):
	pairs = [
		(row["category"], classify(parse_message((corpus_dir / row["path"]).read_bytes())).value)
		for row in ROWS
		if row["path"] not in EXCLUDED
	]
	for label in (MessageClass.AUTO_REPLY.value, MessageClass.BOUNCE.value):
		precision, recall, tp, fp, fn = precision_recall(pairs, label)
		REPORT.append(
			f"corpus {label}: precision {precision:.3f} recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn}; "
			f"{len(pairs)} files, {len(EXCLUDED)} excluded)"
		)
		assert precision >= MIN_PRECISION, (label, precision)
		assert recall >= 0.8, (label, recall)


def test_unmatched_bounces_from_the_corpus_wait_as_bounces(corpus_dir):
	bounces = [row["path"] for row in ROWS if row["category"] == "bounce"][:20]
	for path in bounces:
		message = parse_message((corpus_dir / path).read_bytes())
		action = decide(message, [], [], email_account=None, sender_is_internal=False)
		if classify(message) is MessageClass.BOUNCE:
			assert (action.outcome, action.reason) == (Outcome.UNPROCESSED, "bounce"), path


def test_core_throughput_is_reported(corpus_dir):
	"""A figure only (speed is never asserted); what is asserted is that every mail got a decision:
	with no candidate case and no route, each one waits in the Unprocessed queue."""
	messages = [parse_message((corpus_dir / row["path"]).read_bytes()) for row in ROWS]
	start = time.perf_counter()
	rounds = 20
	outcomes = []
	for _ in range(rounds):
		outcomes = [
			decide(message, [], [], email_account=None, sender_is_internal=False).outcome
			for message in messages
		]
	rate = rounds * len(messages) / (time.perf_counter() - start)
	REPORT.append(f"core: classify+decide {rate:,.0f} messages/s over the corpus (figure only, not asserted)")
	assert len(outcomes) == len(ROWS) and set(outcomes) == {Outcome.UNPROCESSED}
