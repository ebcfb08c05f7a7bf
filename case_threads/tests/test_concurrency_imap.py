"""Concurrent pulls over real IMAP (issue 6): several processes run Frappe's pull job against
Dovecot mailboxes at the same moment. Replies to one Closed case make one clone (F8), one mail in
several mailboxes makes one case (F5), and no deadlock or other error surfaces on the way."""

import contextlib
import email
import secrets

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import now_datetime

from case_threads.case_threads.doctype.email_route.email_route import ROUTES_CACHE_KEY
from case_threads.tests.mail_servers import dovecot, require_mail_servers
from case_threads.tests.parallel import run_at_once
from case_threads.tests.scenario import DISPOSITION, SETTINGS, ensure_disposition, mailbox_account, pull
from case_threads.tests.utils import build_mail

# Long enough that every other pull surely reaches the same case or Message-ID meanwhile.
DELAY = 1.0


class TestConcurrentImapPulls(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		require_mail_servers()
		cls.domain = f"conc{secrets.token_hex(3)}.test"
		cls.boxes = [f"box{i}@{cls.domain}" for i in (1, 2, 3)]
		cls.servers = contextlib.ExitStack()
		cls.imap = cls.servers.enter_context(dovecot({box: secrets.token_urlsafe(12) for box in cls.boxes}))
		settings = frappe.get_single("Case Threads Settings")
		settings.update(SETTINGS)
		settings.save(ignore_permissions=True)
		ensure_disposition()
		cls.route = (
			frappe.get_doc(
				{
					"doctype": "Email Route",
					"route_name": f"Concurrency {cls.domain}",
					"address_pattern": f"*@{cls.domain}",
					"sequence": 10,
				}
			)
			.insert(ignore_permissions=True)
			.name
		)
		frappe.db.commit()
		cls.accounts = {box: mailbox_account(cls.imap, box) for box in cls.boxes}

	@classmethod
	def tearDownClass(cls):
		frappe.db.rollback()
		for account in cls.accounts.values():
			frappe.db.set_value("Email Account", account, "enable_incoming", 0)
		frappe.db.set_value("Email Route", cls.route, "enabled", 0)
		frappe.cache.delete_value(ROUTES_CACHE_KEY)
		frappe.db.commit()
		cls.servers.close()
		super().tearDownClass()

	def setUp(self):
		frappe.db.commit()
		self.since = now_datetime()
		self.customer = f"c{secrets.token_hex(4)}@customer.test"

	def pull_at_once(self, boxes, slow):
		"""One process per entry of `boxes` runs the pull job for that mailbox, all released at once;
		asserts they exited cleanly and were all pulling at the same time."""
		times = run_at_once(self, pull, [(self.accounts[box],) for box in boxes], slow, DELAY)
		# Every pull started before any finished: the processes really raced.
		self.assertLess(max(t[0] for t in times), min(t[1] for t in times), times)
		for box in set(boxes):
			self.assertEqual(self.imap.unseen(box), 0, f"{box} was not pulled over IMAP")

	def assert_no_errors(self):
		"""(c) No deadlock or other error was logged, and no mail fell through to Unhandled Email."""
		errors = frappe.get_all(
			"Error Log", filters={"creation": (">=", self.since)}, fields=["method", "error"]
		)
		self.assertEqual([(e.method, (e.error or "")[-300:]) for e in errors], [])
		accounts = list(self.accounts.values())
		self.assertEqual(frappe.db.count("Unhandled Email", {"email_account": ("in", accounts)}), 0)
		self.assertEqual(
			frappe.get_all(
				"Unprocessed Email",
				filters={"email_account": ("in", accounts), "creation": (">=", self.since)},
				pluck="reason",
			),
			[],
		)

	def communications(self, raw):
		message_id = email.message_from_bytes(raw)["Message-ID"].strip("<>")
		return frappe.get_all(
			"Communication", filters={"message_id": message_id}, fields=["reference_name", "email_account"]
		)

	def test_replies_to_closed_case_from_three_mailboxes_make_one_clone(self):
		first = build_mail("Router keeps rebooting", self.customer, to=self.boxes[0])
		self.imap.deliver(self.boxes[0], first)
		pull(self.accounts[self.boxes[0]])
		case = frappe.get_doc("Case", self.communications(first)[0].reference_name)
		case.status, case.disposition = "Closed", DISPOSITION
		case.save(ignore_permissions=True)
		frappe.db.commit()

		first_id = email.message_from_bytes(first)["Message-ID"]
		replies = [
			build_mail(f"Re: {case.subject}", self.customer, to=self.boxes[0], in_reply_to=first_id)
			for _ in range(3)
		]
		# Reply i lands in mailbox i; the last one also in mailbox 1 (two pulls race on one mail).
		for box, raw in zip(self.boxes, replies, strict=True):
			self.imap.deliver(box, raw)
		self.imap.deliver(self.boxes[0], replies[2])
		self.pull_at_once(self.boxes, ("case_threads.mail.apply", "clone_case"))

		clones = frappe.get_all("Case", filters={"cloned_from": case.name}, pluck="name")
		self.assertEqual(len(clones), 1)
		for raw in replies:
			self.assertEqual([c.reference_name for c in self.communications(raw)], clones)
		self.assertEqual(
			frappe.db.get_value("Case", case.name, ["status", "cloned_to"]), ("Closed", clones[0])
		)
		self.assertEqual(frappe.db.get_value("Case", clones[0], "status"), "Open")
		self.assert_no_errors()

	def test_one_new_mail_in_three_mailboxes_pulled_at_once_makes_one_case(self):
		raw = build_mail("Everyone gets this", self.customer, to=", ".join(self.boxes))
		for box in self.boxes:
			self.imap.deliver(box, raw)
		self.pull_at_once(self.boxes, ("case_threads.mail.inbound", "decide_for"))

		found = self.communications(raw)
		self.assertEqual(len(found), 1)
		self.assertTrue(found[0].reference_name)
		self.assertEqual(
			frappe.get_all("Case", filters={"raised_by": self.customer}, pluck="name"),
			[found[0].reference_name],
		)
		self.assert_no_errors()
