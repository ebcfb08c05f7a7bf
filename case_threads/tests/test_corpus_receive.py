"""Every real mail of the shared corpus, pulled by a real Email Account, ends in exactly one place:
a Case, the Unprocessed queue, or Frappe's Unhandled Email ("nothing is lost")."""

import csv
import email
from collections import Counter

import frappe
from frappe.utils import get_string_between, now_datetime

from case_threads.tests.test_inbound import InboundTestCase
from case_threads.tests.utils import corpus_path, make_mailbox, receive, require_corpus


def frappe_message_id(raw):
	"""The Message-ID as Frappe's receive path stores it."""
	value = email.message_from_bytes(raw).get("Message-ID") or ""
	return get_string_between("<", str(value), ">")


class TestCorpusThroughReceive(InboundTestCase):
	def test_every_corpus_mail_ends_in_exactly_one_place(self):
		index = require_corpus(self) / "index.csv"
		with open(index, newline="") as f:
			raws = [(corpus_path() / row["path"]).read_bytes() for row in csv.DictReader(f)]
		mailbox = make_mailbox("corpus@ct.test")
		# A clean mailbox, so that every run processes every mail instead of seeing them as re-pulls:
		# a settled Inbound Mail Receipt of an earlier run on this site would skip its mail (issue 18).
		for doctype in ("Communication", "Unprocessed Email", "Unhandled Email", "Inbound Mail Receipt"):
			frappe.db.delete(doctype, {"email_account": mailbox.name})
		frappe.db.commit()
		started = now_datetime()

		try:
			receive(mailbox, *raws)
		except Exception:
			# Frappe re-raises the collected errors after the pull; the per-mail checks below decide.
			pass

		files_per_id = Counter(frappe_message_id(raw) for raw in raws)
		places = {}
		for message_id in files_per_id:
			if not message_id:
				continue
			comm = frappe.db.get_value(
				"Communication",
				{"message_id": message_id},
				["name", "reference_doctype", "reference_name"],
				as_dict=True,
			)
			in_case = bool(comm and comm.reference_doctype == "Case" and comm.reference_name)
			unprocessed = bool(comm and frappe.db.exists("Unprocessed Email", {"communication": comm.name}))
			unhandled = bool(frappe.db.exists("Unhandled Email", {"message_id": ("like", f"%{message_id}%")}))
			places[message_id] = (in_case, unprocessed, unhandled)
		# Some corpus files share a Message-ID; Frappe treats the later ones as the same message pulled
		# again, except where Frappe cannot read one at all (Unhandled). Unique ids: exactly one place.
		wrong = {
			mid: p
			for mid, p in places.items()
			if (sum(p) != 1 if files_per_id[mid] == 1 else (not any(p) or p[0] + p[1] > 1))
		}
		self.assertFalse(wrong, f"{len(wrong)} mails not in exactly one place: {list(wrong.items())[:5]}")

		# Mails without a Message-ID cannot be looked up one by one: count this pull's records.
		without_id = sum(1 for raw in raws if not frappe_message_id(raw))
		new_comms = frappe.get_all(
			"Communication",
			filters={
				"email_account": mailbox.name,
				"message_id": ("in", ("", None)),
				"creation": (">=", started),
			},
			fields=["name", "reference_name"],
		)
		for comm in new_comms:
			parked = frappe.db.exists("Unprocessed Email", {"communication": comm.name})
			self.assertEqual(bool(comm.reference_name) + bool(parked), 1, comm.name)
		new_unhandled = frappe.db.count(
			"Unhandled Email",
			{"email_account": mailbox.name, "creation": (">=", started), "message_id": ("is", "not set")},
		)
		self.assertEqual(len(new_comms) + new_unhandled, without_id)
