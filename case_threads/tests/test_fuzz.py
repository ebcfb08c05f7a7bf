"""Fuzzing the receive path (issue 6): generated and mutated mail through Frappe's Email Account.

Every mail must end in exactly one of a Case, an Unprocessed Email or an Unhandled Email, and no
exception may reach the Email Account's loop. CASE_THREADS_FUZZ_MAILS sets the count (default 500 to
keep CI short, about 0.7 s a mail; 2000 or 10000 for a long run).
"""

import csv
import os
import random

import frappe

from case_threads.tests.test_inbound import InboundTestCase
from case_threads.tests.utils import corpus_path, make_mailbox, receive

MAILS = int(os.environ.get("CASE_THREADS_FUZZ_MAILS") or 500)
BATCH = 100


def corpus_mails():
	with open(corpus_path() / "index.csv", newline="") as f:
		return [(corpus_path() / row["path"]).read_bytes() for row in csv.DictReader(f)]


CHARSETS = ["utf-8", "iso-8859-1", "koi8-r", "gb18030", "x-unknown", "utf-7", ""]


def subject_header(kind, rng):
	if kind == "huge":
		return b"Subject: " + b"A very long subject " * rng.randint(500, 5000)
	if kind == "empty":
		return b"Subject:"
	if kind == "encoded":
		charset = rng.choice(CHARSETS).encode() or b"utf-8"
		return (
			b"Subject: =?"
			+ charset
			+ b"?B?"
			+ rng.randbytes(12).hex().encode()
			+ b"?= =?"
			+ charset
			+ b"?Q?Re=3A_x?="
		)
	if kind == "binary":
		return b"Subject: " + rng.randbytes(40).replace(b"\n", b" ").replace(b"\r", b" ")
	return b"Subject: <script>alert(1)</script> Re: AW: '; DROP TABLE tabCase; -- %s {0}"


def references_header(kind, own_id, rng):
	if kind == "long":
		return b"References: " + b" ".join(b"<r%d@chain.test>" % i for i in range(10_000))
	if kind == "looping":
		return b"References: " + own_id + b" " + own_id + b"\nIn-Reply-To: " + own_id
	if kind == "forged":
		return (
			b"In-Reply-To: <ct.ABCDEFGHIJKL.0011aabbccdd.00000000000000000000@"
			+ frappe.local.site.encode()
			+ b">"
		)
	if kind == "garbage":
		return b"References: <<<>>> ,,, <" + rng.randbytes(8).hex().encode()
	return b""


def mutate(base, number, rng, subject_kind, reference_kind, structure_kind):
	own_id = b"<fuzz-%d-%s@fuzz.test>" % (number, rng.randbytes(4).hex().encode())
	body = base
	if structure_kind == "truncate":
		body = body[: rng.randint(0, len(body))]
	elif structure_kind == "nested":
		body = (
			b"Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: message/rfc822\n\n"
			+ body
			+ b"\n--XX\nContent-Type: message/rfc822\n\n"
			+ body
			+ b"\n--XX--\n"
		)
	elif structure_kind == "flip":
		data = bytearray(body)
		for _ in range(rng.randint(1, 20)):
			if data:
				data[rng.randrange(len(data))] = rng.randrange(256)
		body = bytes(data)
	elif structure_kind == "charset":
		body = b"Content-Type: text/plain; charset=" + rng.choice(CHARSETS).encode() + b"\n" + body
	# Our own headers first: the first Message-ID wins, so every mail stays countable.
	headers = [b"Message-ID: " + own_id, b"To: fuzz@ct.test"]
	if rng.random() < 0.5:
		# Otherwise the corpus mail's own sender stays: MAILER-DAEMON, list servers, nobody at all.
		headers.append(b"From: fuzzer%d@customer.test" % number)
	# "base" keeps the corpus mail's own Subject (its first Subject header then wins).
	subject = subject_header(subject_kind, rng) if subject_kind != "base" else b""
	headers += [h for h in (subject, references_header(reference_kind, own_id, rng)) if h]
	return b"\n".join(headers) + b"\n" + body, own_id.strip(b"<>").decode()


SUBJECTS = ["huge", "empty", "encoded", "binary", "payload", "base"]
REFERENCES = ["long", "looping", "forged", "garbage", "none"]
STRUCTURES = ["truncate", "nested", "flip", "charset", "as_is"]


class TestFuzzReceive(InboundTestCase):
	def test_nothing_is_lost_and_nothing_escapes(self):
		# A seeded generator rather than hypothesis here: one run of thousands of mails, reproducible
		# from the seed it prints (hypothesis would start from its simplest, all-alike example).
		seed = int(os.environ.get("CASE_THREADS_FUZZ_SEED") or random.randrange(2**32))
		print(f"\nfuzz seed {seed} (CASE_THREADS_FUZZ_SEED to replay)")
		picker = random.Random(seed)
		mutations = [
			(
				picker.randrange(10_000),
				picker.choice(SUBJECTS),
				picker.choice(REFERENCES),
				picker.choice(STRUCTURES),
				picker.randrange(2**32),
			)
			for _ in range(MAILS)
		]
		bases = corpus_mails()
		mailbox = make_mailbox("fuzz@ct.test")
		for doctype in ("Communication", "Unprocessed Email", "Unhandled Email"):
			frappe.db.delete(doctype, {"email_account": mailbox.name})
		frappe.db.commit()

		mails = []
		for number, (pick, subject_kind, reference_kind, structure_kind, seed) in enumerate(mutations):
			rng = random.Random(seed)
			mails.append(
				mutate(bases[pick % len(bases)], number, rng, subject_kind, reference_kind, structure_kind)
			)

		for start in range(0, len(mails), BATCH):
			# Frappe's loop re-raises what reached it; nothing may.
			receive(mailbox, *(raw for raw, _ in mails[start : start + BATCH]))

		comms = {
			row.message_id: row
			for row in frappe.get_all(
				"Communication",
				filters={"email_account": mailbox.name},
				fields=["name", "message_id", "reference_doctype", "reference_name"],
			)
		}
		parked = set(
			frappe.get_all(
				"Unprocessed Email", filters={"email_account": mailbox.name}, pluck="communication"
			)
		)
		unhandled = frappe.db.count("Unhandled Email", {"email_account": mailbox.name})
		# Each Communication is on a Case or waits in the queue, never both, never neither.
		doubled = [
			(comm.message_id, comm.reference_doctype, comm.name in parked)
			for comm in comms.values()
			if (comm.reference_doctype == "Case") == (comm.name in parked)
		]
		in_case_or_queue = sum(1 for _raw, mid in mails if mid in comms)
		self.assertEqual(in_case_or_queue + unhandled, len(mails), "mails lost")
		self.assertFalse(doubled, doubled[:5])
		print(
			f"\nfuzz: {len(mails)} mails → {len(comms)} Communications ({len(parked)} unprocessed), {unhandled} unhandled"
		)
