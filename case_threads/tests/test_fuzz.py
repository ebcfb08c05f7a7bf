"""Fuzzing the receive path (issue 6): generated and mutated mail through Frappe's Email Account.

Every mail must end in exactly one of a Case, an Unprocessed Email or an Unhandled Email, and no
exception may reach the Email Account's loop. Two generators:

- mutated corpus mail, seeded (CASE_THREADS_FUZZ_MAILS, default 600; 10000 for
  a long run; CASE_THREADS_FUZZ_SEED replays one run);
- hypothesis-built mail from scratch, one mail an example, each checked on its own so that a failure
  shrinks to the smallest mail that loses something (CASE_THREADS_FUZZ_EXAMPLES, default 200).
"""

import csv
import os
import random
import secrets
from collections import Counter

import frappe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from case_threads.tests.test_inbound import InboundTestCase
from case_threads.tests.utils import corpus_path, make_mailbox, receive, require_corpus

MAILS = int(os.environ.get("CASE_THREADS_FUZZ_MAILS") or 600)
EXAMPLES = int(os.environ.get("CASE_THREADS_FUZZ_EXAMPLES") or 200)
BATCH = 100


def corpus_mails():
	with open(corpus_path() / "index.csv", newline="") as f:
		return [(corpus_path() / row["path"]).read_bytes() for row in csv.DictReader(f)]


CHARSETS = ["utf-8", "iso-8859-1", "koi8-r", "gb18030", "x-unknown", "utf-7", ""]


def subject_header(kind, rng):
	if kind == "huge":
		# 4-20 kB, now and then 100 kB: Frappe's own charset guess re-folds the whole header, which
		# takes time quadratic in its length (about a minute at 100 kB, in bare Frappe too).
		repeats = 5000 if rng.random() < 0.02 else rng.randint(200, 1000)
		return b"Subject: " + b"A very long subject " * repeats
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
		require_corpus(self)
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


# --- hypothesis: mail built from scratch ----------------------------------------------------------

header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
message_id_like = st.one_of(
	st.from_regex(r"<[a-z0-9.\-]{1,30}@[a-z0-9.\-]{1,20}>", fullmatch=True),
	# Shaped like the app's signed ids, with made-up tokens and signatures.
	st.from_regex(r"<ct\.[A-Z0-9]{12}\.[0-9a-f]{12}\.[0-9a-f]{20}@[a-z.]{1,20}>", fullmatch=True),
	header_text,
)
HEADER_NAMES = [b"Auto-Submitted", b"Precedence", b"X-Autoreply", b"Delivered-To", b"Cc", b"Reply-To"]


@st.composite
def generated_mail(draw):
	"""Raw bytes of a mail, all drawn but the first line: the test puts a fresh Message-ID there."""
	lines = [b"Message-ID: <{id}>"]
	# Mostly real addresses: Frappe itself turns away mail without a usable sender (Unhandled Email),
	# and the app's own decisions only start once Frappe accepted one.
	sender = draw(st.one_of(st.emails(), st.emails(), st.emails(), header_text, st.just("")))
	if sender != "fuzz@ct.test":  # Frappe skips its own mailbox's mail on purpose
		lines.append(b"From: " + sender.encode("utf-8", "replace"))
	lines.append(b"To: " + draw(st.sampled_from([b"fuzz@ct.test", b"", b"undisclosed-recipients:;"])))
	lines.append(b"Subject: " + draw(header_text).encode("utf-8", "replace"))
	references = draw(st.lists(message_id_like, max_size=30))
	if references:
		lines.append(b"References: " + " ".join(references).encode("utf-8", "replace"))
		lines.append(b"In-Reply-To: " + draw(st.sampled_from(references)).encode("utf-8", "replace"))
	for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=3)):
		lines.append(name + b": " + draw(header_text).encode("utf-8", "replace"))
	charset = draw(st.sampled_from(CHARSETS))
	lines.append(b"Content-Type: text/plain; charset=" + charset.encode())
	body = draw(st.one_of(st.binary(max_size=2000), header_text.map(lambda t: t.encode())))
	return b"\r\n".join(lines) + b"\r\n\r\n" + body


class TestFuzzGenerated(InboundTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.fuzz_box = make_mailbox("fuzz-gen@ct.test")
		cls.outcomes = Counter()

	@classmethod
	def tearDownClass(cls):
		print(f"\nhypothesis: {sum(cls.outcomes.values())} mails → {dict(cls.outcomes)}")
		super().tearDownClass()

	def places(self, message_id):
		"""Where one mail ended: (on a Case, in the queue, as Unhandled Email)."""
		comm = frappe.db.get_value(
			"Communication", {"message_id": message_id}, ["name", "reference_doctype"], as_dict=True
		)
		parked = bool(comm) and frappe.db.exists("Unprocessed Email", {"communication": comm.name})
		unhandled = frappe.db.count("Unhandled Email", {"message_id": ("like", f"%{message_id}%")})
		return (bool(comm) and comm.reference_doctype == "Case", bool(parked), unhandled)

	@settings(
		max_examples=EXAMPLES,
		deadline=None,
		database=None,
		suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
	)
	@given(generated_mail())
	def test_each_generated_mail_ends_in_exactly_one_place(self, mail):
		# Fresh for every run of an example (hypothesis replays examples while it shrinks), so that
		# each mail is counted once; secrets, not random, which hypothesis seeds.
		message_id = f"hyp-{secrets.token_hex(8)}@fuzz.test"
		raw = mail.replace(b"{id}", message_id.encode(), 1)
		receive(self.fuzz_box, raw)
		on_case, parked, unhandled = self.places(message_id)
		self.assertEqual(on_case + parked + unhandled, 1, (raw[:500], on_case, parked, unhandled))
		self.outcomes["case" if on_case else "unprocessed" if parked else "unhandled"] += 1
