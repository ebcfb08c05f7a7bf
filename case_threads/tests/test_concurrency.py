"""Two replies to one closed case, processed at once by two processes → exactly one clone (F8)."""

import email
import multiprocessing
import time
from unittest.mock import patch

import frappe

from case_threads.tests.test_inbound import SUPPORT, InboundTestCase
from case_threads.tests.utils import build_mail, case_of, make_mailbox, receive, unique

# Long enough that the second process is surely waiting on the lock while the first clones.
CLONE_DELAY = 1.5


def reply_in_own_process(site, sites_path, mailbox_name, raw, barrier):
	"""Runs in a fresh process with its own database connection."""
	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	frappe.flags.in_test = True
	try:
		from case_threads.mail import apply

		original = apply.clone_case

		def slow_clone(case):
			time.sleep(CLONE_DELAY)
			return original(case)

		with patch.object(apply, "clone_case", side_effect=slow_clone):
			barrier.wait(timeout=60)
			receive(frappe.get_doc("Email Account", mailbox_name), raw)
	finally:
		frappe.destroy()


class TestConcurrentClone(InboundTestCase):
	def test_two_concurrent_replies_make_one_clone(self):
		case, first_id = self.new_case()
		case.reload()
		case.status = "Closed"
		case.save(ignore_permissions=True)
		frappe.db.commit()

		raws = [build_mail(f"Re: {case.subject}", case.raised_by, in_reply_to=first_id) for _ in range(2)]
		ctx = multiprocessing.get_context("spawn")
		barrier = ctx.Barrier(2)
		workers = [
			ctx.Process(
				target=reply_in_own_process,
				args=(frappe.local.site, frappe.local.sites_path, self.mailbox.name, raw, barrier),
			)
			for raw in raws
		]
		for worker in workers:
			worker.start()
		for worker in workers:
			worker.join(timeout=120)
		self.assertEqual([w.exitcode for w in workers], [0, 0])

		clones = frappe.get_all("Case", filters={"cloned_from": case.name}, pluck="name")
		self.assertEqual(len(clones), 1)
		targets = {case_of(email.message_from_bytes(raw)["Message-ID"]) for raw in raws}
		self.assertEqual(targets, {clones[0]})
		self.assertEqual(frappe.db.get_value("Case", case.name, "cloned_to"), clones[0])


def pull_in_own_process(site, sites_path, mailbox_name, raw, barrier):
	"""Pull `raw` into `mailbox_name` from a fresh process, holding the decision a moment."""
	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	frappe.flags.in_test = True
	try:
		from case_threads.mail import inbound

		original = inbound.decide_for

		def slow_decide(communication, message):
			time.sleep(CLONE_DELAY)
			return original(communication, message)

		with patch.object(inbound, "decide_for", side_effect=slow_decide):
			barrier.wait(timeout=60)
			receive(frappe.get_doc("Email Account", mailbox_name), raw)
	finally:
		frappe.destroy()


class TestConcurrentDelivery(InboundTestCase):
	def test_one_mail_pulled_by_two_mailboxes_at_once_makes_one_case(self):
		sales = make_mailbox("sales@ct.test")
		raw = build_mail(
			"Both mailboxes " + unique("m"), f"{unique('c')}@customer.test", to=f"{SUPPORT}, sales@ct.test"
		)
		before = frappe.db.count("Case")
		ctx = multiprocessing.get_context("spawn")
		barrier = ctx.Barrier(2)
		workers = [
			ctx.Process(
				target=pull_in_own_process,
				args=(frappe.local.site, frappe.local.sites_path, mailbox, raw, barrier),
			)
			for mailbox in (self.mailbox.name, sales.name)
		]
		for worker in workers:
			worker.start()
		for worker in workers:
			worker.join(timeout=120)
		self.assertEqual([w.exitcode for w in workers], [0, 0])
		frappe.db.commit()  # read what the workers committed, not this transaction's snapshot
		self.assertEqual(frappe.db.count("Case"), before + 1)
		self.assertFalse(
			frappe.db.exists("Unhandled Email", {"message_id": email.message_from_bytes(raw)["Message-ID"]})
		)
		message_id = email.message_from_bytes(raw)["Message-ID"].strip("<>")
		cases = set(
			frappe.get_all("Communication", filters={"message_id": message_id}, pluck="reference_name")
		)
		self.assertEqual(len(cases), 1)
