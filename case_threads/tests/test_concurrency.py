"""Processes pulling at the same time: two replies to one closed case make one clone (F8), one mail
in two mailboxes makes one case (F5)."""

import email

import frappe

from case_threads.tests.parallel import run_at_once
from case_threads.tests.test_inbound import SUPPORT, InboundTestCase
from case_threads.tests.utils import build_mail, case_of, make_mailbox, receive, unique

# Long enough that the second process is surely waiting on the lock while the first holds it.
DELAY = 1.5


def receive_into(mailbox_name, raw):
	receive(frappe.get_doc("Email Account", mailbox_name), raw)


def pull_at_once(test, jobs, module, attribute):
	"""Run (mailbox name, raw mail) jobs in parallel processes; all must exit cleanly."""
	run_at_once(test, receive_into, jobs, (module, attribute), DELAY)


class TestConcurrentClone(InboundTestCase):
	def test_two_concurrent_replies_make_one_clone(self):
		case, first_id = self.new_case()
		case.reload()
		case.status = "Closed"
		case.save(ignore_permissions=True)
		frappe.db.commit()

		raws = [build_mail(f"Re: {case.subject}", case.raised_by, in_reply_to=first_id) for _ in range(2)]
		pull_at_once(
			self, [(self.mailbox.name, raw) for raw in raws], "case_threads.mail.apply", "clone_case"
		)

		clones = frappe.get_all("Case", filters={"cloned_from": case.name}, pluck="name")
		self.assertEqual(len(clones), 1)
		targets = {case_of(email.message_from_bytes(raw)["Message-ID"]) for raw in raws}
		self.assertEqual(targets, {clones[0]})
		self.assertEqual(frappe.db.get_value("Case", case.name, "cloned_to"), clones[0])


class TestConcurrentDelivery(InboundTestCase):
	def test_one_mail_pulled_by_two_mailboxes_at_once_makes_one_case(self):
		sales = make_mailbox("sales@ct.test")
		raw = build_mail(
			"Both mailboxes " + unique("m"), f"{unique('c')}@customer.test", to=f"{SUPPORT}, sales@ct.test"
		)
		before = frappe.db.count("Case")
		frappe.db.commit()
		jobs = [(self.mailbox.name, raw), (sales.name, raw)]
		pull_at_once(self, jobs, "case_threads.mail.inbound", "decide_for")

		self.assertEqual(frappe.db.count("Case"), before + 1)
		message_id = email.message_from_bytes(raw)["Message-ID"]
		self.assertFalse(frappe.db.exists("Unhandled Email", {"message_id": message_id}))
		cases = set(
			frappe.get_all(
				"Communication", filters={"message_id": message_id.strip("<>")}, pluck="reference_name"
			)
		)
		self.assertEqual(len(cases), 1)
