"""Beside Frappe Helpdesk, in either install order (issue 13: PRODUCT "Good neighbour", F5, F11).

Runs only on a site where the helpdesk app is installed (scripts/test-neighbour makes two: Helpdesk
installed first, and Case Threads installed first); elsewhere every test is skipped, loudly.

Mail is pulled the way Frappe's scheduler pulls it: a `pull_from_email_account` job run by
`execute_job` (which calls the `before_job` hooks), then the Email Account class in effect
(Helpdesk's, with or without this app's mixin), InboundMail and Communication; only the IMAP
network edge is replaced, as in case_threads.tests.utils.receive.
"""

import email
import email.header
import unittest
from unittest.mock import patch

import frappe
from frappe.core.doctype.communication.email import make as make_communication
from frappe.email.receive import EmailServer
from frappe.tests.utils import FrappeTestCase
from frappe.utils import now_datetime
from frappe.utils.background_jobs import execute_job

from case_threads.core import token_from_message_id
from case_threads.mail import inbound
from case_threads.mail.email_account import CaseThreadsEmailAccountMixin, _base_class
from case_threads.settings import site_secret
from case_threads.tests.test_inbound import setup_routing
from case_threads.tests.utils import _uids, build_mail, case_of, communication_for, make_mailbox, unique

PULL = "frappe.email.doctype.email_account.email_account.pull_from_email_account"
CASES = "neighbour@ct.test"  # a Case mailbox (no Append To), routed by test_inbound's catch-all
HELPDESK = "helpdesk@hd.test"  # a Helpdesk mailbox, made the way Helpdesk's own setup makes one
SKIPPED = "!! NEIGHBOUR TESTS SKIPPED: the helpdesk app is not installed on site {site} (scripts/test-neighbour runs them)"
_said_skipped = []


def helpdesk_installed():
	return "helpdesk" in frappe.get_installed_apps()


def make_helpdesk_mailbox(email_id):
	"""As helpdesk.api.settings.email.create_email_account does: IMAP, INBOX appended to HD Ticket."""
	name = f"HD {email_id}"
	if not frappe.db.exists("Email Account", name):
		frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": name,
				"email_id": email_id,
				"enable_incoming": 1,
				"use_imap": 1,
				"email_server": "127.0.0.1",
				"incoming_port": 143,
				"password": "unused",
				"email_sync_option": "ALL",
				"create_contact": 1,
				"imap_folder": [{"folder_name": "INBOX", "append_to": "HD Ticket"}],
				# Helpdesk's agents reply from the ticket's mailbox (not the site's default outgoing one).
				"enable_outgoing": 1,
				"smtp_server": "127.0.0.1",
				"smtp_port": 25,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
	return frappe.get_doc("Email Account", name)


def pull(mailbox, *raw_mails):
	"""The scheduler's job for `mailbox`, with the server holding `raw_mails`."""
	uids = [next(_uids) for _ in raw_mails]
	messages = {'"INBOX"': {"latest_messages": list(raw_mails), "uid_list": uids, "seen_status": {}}}
	job = getattr(frappe.local, "job", None)
	with (
		patch.object(EmailServer, "connect", return_value=True),
		patch.object(EmailServer, "select_imap_folder", return_value=True),
		patch.object(EmailServer, "logout", return_value=None),
		patch.object(
			EmailServer, "get_messages", side_effect=lambda folder=None, **kw: messages.get(folder, {})
		),
	):
		try:
			execute_job(
				frappe.local.site,
				PULL,
				"all",
				f"pull_from_email_account|{mailbox.name}",
				{"email_account": mailbox.name},
				is_async=False,
			)
		finally:
			frappe.local.job = job


def message_id_of(raw):
	return email.message_from_bytes(raw)["Message-ID"]


def ticket_of(message_id):
	communication = communication_for(message_id)
	if communication.reference_doctype != "HD Ticket":
		return None
	return communication.reference_name


class NeighbourTestCase(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		if not helpdesk_installed():
			if not _said_skipped:
				_said_skipped.append(True)
				print("\n" + SKIPPED.format(site=frappe.local.site), flush=True)
			raise unittest.SkipTest(SKIPPED.format(site=frappe.local.site))
		setup_routing()
		cls.cases = make_mailbox(CASES, outgoing=1)
		cls.helpdesk = make_helpdesk_mailbox(HELPDESK)

	def setUp(self):
		self.started = now_datetime()

	def errors_since_start(self):
		return frappe.get_all(
			"Error Log", filters={"creation": (">=", self.started)}, pluck="method", limit=5
		)


class TestClassInEffect(NeighbourTestCase):
	def test_pull_job_layers_the_app_over_helpdesk_class(self):
		helpdesk_class = frappe.get_attr("helpdesk.overrides.email_account.CustomEmailAccount")
		# A fresh worker process: nothing cached yet, Frappe chooses by install order.
		frappe.controllers.get(frappe.local.site, {}).pop("Email Account", None)
		pull(self.cases)
		account_class = type(frappe.get_doc("Email Account", self.cases.name))
		self.assertTrue(issubclass(account_class, CaseThreadsEmailAccountMixin), account_class.__mro__)
		self.assertTrue(issubclass(account_class, helpdesk_class), account_class.__mro__)
		self.assertIs(_base_class(), helpdesk_class)


class TestHelpdeskMailbox(NeighbourTestCase):
	# Helpdesk's acknowledgement stays off (its default): v1.14.0 passes `email_headers` to
	# frappe.sendmail, which Frappe 15.44.2 does not take, so with it on no mail makes a ticket,
	# with or without this app.

	def test_new_mail_makes_ticket_and_replies_thread_onto_it(self):
		sender = f"{unique('hd')}@customer.test"
		cases_before = frappe.db.count("Case")
		first = build_mail(f"Helpdesk question {unique('q')}", sender, to=HELPDESK)
		pull(self.helpdesk, first)

		ticket = ticket_of(message_id_of(first))
		self.assertTrue(ticket, "the Helpdesk mailbox's mail made no HD Ticket")
		self.assertEqual(frappe.db.get_value("HD Ticket", ticket, "raised_by"), sender)

		# An agent answers from Helpdesk (its own reply_via_agent), the ticket waits on the customer.
		frappe.get_doc("HD Ticket", ticket).reply_via_agent("We are looking into it.")
		frappe.db.set_value("HD Ticket", ticket, "status", "Replied")
		frappe.db.commit()
		agent_mail = frappe.get_all(
			"Email Queue",
			filters={"reference_doctype": "HD Ticket", "reference_name": ticket},
			pluck="message_id",
		)
		self.assertEqual(len(agent_mail), 1)
		# This app's outbound hooks left Helpdesk's mail alone: no thread token of ours in it.
		self.assertIsNone(token_from_message_id(agent_mail[0], site_secret()))

		# The customer answers the agent (In-Reply-To), then writes on the first mail's thread.
		reply = build_mail("Re: We are looking into it", sender, to=HELPDESK, in_reply_to=agent_mail[0])
		again = build_mail("One more thing", sender, to=HELPDESK, in_reply_to=message_id_of(first))
		pull(self.helpdesk, reply, again)

		self.assertEqual(ticket_of(message_id_of(reply)), ticket)
		self.assertEqual(ticket_of(message_id_of(again)), ticket)
		# Helpdesk's on_communication_update ran: a customer reply reopens the ticket.
		self.assertEqual(frappe.db.get_value("HD Ticket", ticket, "status"), "Open")
		self.assertEqual(frappe.db.count("Case"), cases_before)
		for raw in (first, reply, again):
			communication = communication_for(message_id_of(raw))
			self.assertFalse(frappe.db.exists("Unprocessed Email", {"communication": communication.name}))
			self.assertEqual(communication.reference_doctype, "HD Ticket")
		self.assertEqual(self.errors_since_start(), [])

	def test_helpdesk_own_fetch_loop_runs_for_its_mailbox(self):
		# Helpdesk's get_inbound_mails skips mail it generated itself (X-Auto-Generated): still so.
		raw = build_mail(
			"Ticket #1: We've received your request",
			f"{unique('hd')}@customer.test",
			to=HELPDESK,
			headers={"X-Auto-Generated": "hd-acknowledgement"},
		)
		pull(self.helpdesk, raw)
		self.assertFalse(frappe.db.exists("Communication", {"message_id": message_id_of(raw).strip("<>")}))
		self.assertFalse(frappe.db.exists("Unhandled Email", {"message_id": message_id_of(raw)}))


class CaseMailboxTestCase(NeighbourTestCase):
	def new_case(self):
		raw = build_mail(f"Printer broken {unique('s')}", f"{unique('cust')}@customer.test", to=CASES)
		pull(self.cases, raw)
		name = case_of(message_id_of(raw))
		self.assertTrue(name, "the Case mailbox's mail made no Case")
		return frappe.get_doc("Case", name), message_id_of(raw)

	def agent_reply(self, case):
		result = make_communication(
			doctype="Case",
			name=case.name,
			content="We are on it.",
			subject=f"Re: {case.subject}",
			recipients=case.raised_by,
			send_email=True,
		)
		frappe.db.commit()
		return frappe.get_doc("Communication", result["name"])

	def customer_pull(self, case, subject, **kwargs):
		raw = build_mail(subject, case.raised_by, to=CASES, **kwargs)
		pull(self.cases, raw)
		return communication_for(message_id_of(raw))


class TestCaseMailboxF5(CaseMailboxTestCase):
	def test_raw_headers_reach_the_app(self):
		seen = []
		original = inbound.decide_for

		def spy(communication, message):
			seen.append(message)
			return original(communication, message)

		raw = build_mail(
			"Raw header check",
			f"{unique('raw')}@customer.test",
			to=CASES,
			references="<a@x.test> <b@x.test>",
			headers={"Delivered-To": CASES, "Auto-Submitted": "no"},
		)
		with patch.object(inbound, "decide_for", side_effect=spy):
			pull(self.cases, raw)
		self.assertEqual(len(seen), 1)
		self.assertEqual(seen[0].references, ("a@x.test", "b@x.test"))
		self.assertEqual(seen[0].delivered_to, (CASES,))

	def test_references_only_reply_attaches(self):
		case, first_id = self.new_case()
		reply = self.agent_reply(case)
		answer = self.customer_pull(
			case, "no prefix at all", references=f"<unknown@elsewhere.test> {first_id} <{reply.message_id}>"
		)
		self.assertEqual((answer.reference_doctype, answer.reference_name), ("Case", case.name))

	def test_outlook_reply_with_only_subject_tag_attaches(self):
		case, _ = self.new_case()
		reply = self.agent_reply(case)
		answer = self.customer_pull(case, f"AW: {reply.subject}")
		self.assertEqual(answer.reference_name, case.name)

	def test_multipart_encoded_subject_attaches(self):
		case, _ = self.new_case()
		self.agent_reply(case)
		subject = email.header.Header("Re: Problème d'impression très urgent ", "utf-8", maxlinelen=30)
		subject.append(f"[#{case.thread_token}]", "utf-8")
		raw = build_mail("placeholder", case.raised_by, to=CASES).replace(
			b"Subject: placeholder", b"Subject: " + subject.encode().encode()
		)
		pull(self.cases, raw)
		self.assertEqual(case_of(message_id_of(raw)), case.name)

	def test_auto_reply_does_not_reopen_resolved_case(self):
		case, first_id = self.new_case()
		frappe.db.set_value("Case", case.name, "status", "Resolved")
		frappe.db.commit()
		answer = self.customer_pull(
			case,
			"Automatic reply: out of office",
			in_reply_to=first_id,
			headers={"Auto-Submitted": "auto-replied"},
		)
		case.reload()
		self.assertEqual(answer.reference_name, case.name)
		self.assertEqual((case.status, case.reopen_count), ("Resolved", 0))

	def test_unparseable_mail_ends_in_unhandled_email_and_pull_goes_on(self):
		# No From: Frappe's InboundMail cannot be built from it (Helpdesk's loop would drop the batch).
		bad = build_mail("No sender " + unique("b"), "placeholder@customer.test", to=CASES).replace(
			b"From: placeholder@customer.test\n", b""
		)
		self.assertNotIn(b"From:", bad)
		good = build_mail("Works " + unique("w"), f"{unique('w')}@customer.test", to=CASES)
		pull(self.cases, bad, good)
		self.assertTrue(frappe.db.exists("Unhandled Email", {"message_id": message_id_of(bad)}))
		self.assertTrue(case_of(message_id_of(good)))

	def test_mail_with_helpdesk_marker_still_reaches_case_mailbox(self):
		# Helpdesk's own loop skips X-Auto-Generated mail; in a Case mailbox nothing is lost.
		raw = build_mail(
			"Generated " + unique("g"),
			f"{unique('g')}@customer.test",
			to=CASES,
			headers={"X-Auto-Generated": "x"},
		)
		pull(self.cases, raw)
		self.assertTrue(case_of(message_id_of(raw)))

	def test_without_layering_raw_headers_come_from_the_stack(self):
		"""The fallback: Helpdesk's class alone (as under `bench start`), and still References count."""
		case, _ = self.new_case()
		reply = self.agent_reply(case)
		raw = build_mail(
			"no prefix either", case.raised_by, to=CASES, references=f"<x@y.test> <{reply.message_id}>"
		)
		bare = _base_class()(frappe.get_doc("Email Account", self.cases.name).as_dict())
		self.assertNotIsInstance(bare, CaseThreadsEmailAccountMixin)
		messages = {'"INBOX"': {"latest_messages": [raw], "uid_list": [next(_uids)], "seen_status": {}}}
		with (
			patch.object(EmailServer, "connect", return_value=True),
			patch.object(EmailServer, "select_imap_folder", return_value=True),
			patch.object(EmailServer, "logout", return_value=None),
			patch.object(
				EmailServer, "get_messages", side_effect=lambda folder=None, **kw: messages.get(folder, {})
			),
		):
			bare.receive()
		self.assertEqual(case_of(message_id_of(raw)), case.name)


class TestOneMailToBothKinds(CaseMailboxTestCase):
	"""One email sent to a Helpdesk mailbox and to a Case mailbox: each team gets it, once, whichever
	mailbox pulls first; a reply to both threads on each side; re-pulls make nothing new."""

	def check_both(self, order):
		sender = f"{unique('both')}@customer.test"
		raw = build_mail(f"To both teams {unique('b')}", sender, to=f"{HELPDESK}, {CASES}")
		message_id = message_id_of(raw).strip("<>")
		cases, tickets = frappe.db.count("Case"), frappe.db.count("HD Ticket")
		for mailbox in order:
			pull(mailbox, raw)
		for mailbox in order:
			pull(mailbox, raw)  # re-pulled: nothing new

		stored = frappe.get_all(
			"Communication",
			filters={"message_id": message_id},
			fields=["email_account", "reference_doctype", "reference_name"],
		)
		self.assertEqual(
			sorted((row.email_account, row.reference_doctype) for row in stored),
			sorted([(self.cases.name, "Case"), (self.helpdesk.name, "HD Ticket")]),
		)
		self.assertEqual((frappe.db.count("Case"), frappe.db.count("HD Ticket")), (cases + 1, tickets + 1))
		by_side = {row.reference_doctype: row.reference_name for row in stored}

		# The customer answers their own mail to both addresses: each copy threads on its own side.
		answer = build_mail("Re: both", sender, to=f"{HELPDESK}, {CASES}", in_reply_to=f"<{message_id}>")
		for mailbox in reversed(order):
			pull(mailbox, answer)
		answers = frappe.get_all(
			"Communication",
			filters={"message_id": message_id_of(answer).strip("<>")},
			fields=["reference_doctype", "reference_name"],
		)
		self.assertEqual({row.reference_doctype: row.reference_name for row in answers}, by_side)
		names = frappe.get_all("Communication", filters={"message_id": message_id}, pluck="name")
		self.assertFalse(frappe.db.exists("Unprocessed Email", {"communication": ("in", names)}))
		self.assertEqual(self.errors_since_start(), [])

	def test_helpdesk_pulls_first(self):
		self.check_both([self.helpdesk, self.cases])

	def test_case_mailbox_pulls_first(self):
		self.check_both([self.cases, self.helpdesk])


class TestErpnextPartsStayGuarded(NeighbourTestCase):
	def test_no_customer_link_without_erpnext(self):
		# Helpdesk brings HD Customer, not ERPNext's Customer: installing it (before or after this
		# app, whose after_app_install hook ran for it on one of the two sites) adds no Customer link.
		self.assertNotIn("erpnext", frappe.get_installed_apps())
		for doctype in ("Case", "Email Route"):
			self.assertFalse(frappe.get_meta(doctype).has_field("customer"), doctype)
			self.assertFalse(frappe.db.exists("Custom Field", {"dt": doctype, "fieldname": "customer"}))


def real_pull(account):
	"""The scheduler's job for `account`, over the network (a real Dovecot)."""
	job = getattr(frappe.local, "job", None)
	try:
		execute_job(
			frappe.local.site,
			PULL,
			"all",
			f"pull_from_email_account|{account}",
			{"email_account": account},
			is_async=False,
		)
	finally:
		frappe.local.job = job


def real_account(imap, user, append_to):
	doc = frappe.get_doc(
		{
			"doctype": "Email Account",
			"email_account_name": f"IMAP {user}",
			"email_id": user,
			"password": imap.users[user],
			"enable_incoming": 1,
			"use_imap": 1,
			"email_server": imap.host,
			"incoming_port": imap.port,
			"use_ssl": 0,
			"use_starttls": 0,
			"email_sync_option": "UNSEEN",
			"imap_folder": [{"folder_name": "INBOX", "append_to": append_to}],
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	real_pull(doc.name)  # records the folder's UIDVALIDITY, as a first pull does
	if not frappe.db.get_value("IMAP Folder", {"parent": doc.name}, "uidvalidity"):
		raise AssertionError(f"{doc.name} could not log in to Dovecot")
	return doc.name


class TestRealImap(NeighbourTestCase):
	"""The same through a real Dovecot: Helpdesk's and the app's fetch loops on real IMAP bytes."""

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		from case_threads.tests.mail_servers import dovecot

		run = unique("imap")
		cls.hd_user, cls.case_user = f"hd-{run}@hd.test", f"cases-{run}@ct.test"
		cls._servers = dovecot({cls.hd_user: "pw-hd", cls.case_user: "pw-ct"})
		cls.imap = cls._servers.__enter__()
		try:
			cls.hd_account = real_account(cls.imap, cls.hd_user, "HD Ticket")
			cls.case_account = real_account(cls.imap, cls.case_user, None)
		except BaseException:
			cls._servers.__exit__(None, None, None)
			raise

	@classmethod
	def tearDownClass(cls):
		# Their Dovecot stops here: later pulls of every account must not try it.
		for account in (getattr(cls, "hd_account", None), getattr(cls, "case_account", None)):
			if account:
				frappe.db.set_value("Email Account", account, "enable_incoming", 0)
		frappe.db.commit()
		cls._servers.__exit__(None, None, None)
		super().tearDownClass()

	def test_one_mail_to_both_and_an_unreadable_one_over_real_imap(self):
		sender = f"{unique('real')}@customer.test"
		raw = build_mail(f"Over IMAP {unique('i')}", sender, to=f"{self.hd_user}, {self.case_user}")
		bad = build_mail("No sender " + unique("b"), "placeholder@customer.test", to=self.case_user).replace(
			b"From: placeholder@customer.test\n", b""
		)
		good = build_mail("After the bad one " + unique("g"), sender, to=self.case_user)
		self.imap.deliver(self.hd_user, raw)
		for mail in (raw, bad, good):
			self.imap.deliver(self.case_user, mail)

		real_pull(self.hd_account)
		real_pull(self.case_account)

		stored = frappe.get_all(
			"Communication",
			filters={"message_id": message_id_of(raw).strip("<>")},
			fields=["email_account", "reference_doctype"],
		)
		self.assertEqual(
			sorted((row.email_account, row.reference_doctype) for row in stored),
			sorted([(self.case_account, "Case"), (self.hd_account, "HD Ticket")]),
		)
		self.assertTrue(frappe.db.exists("Unhandled Email", {"message_id": message_id_of(bad)}))
		self.assertTrue(case_of(message_id_of(good)))
		# The one error logged is the app's note that it kept the unreadable mail.
		self.assertEqual(self.errors_since_start(), ["Frappe could not read an inbound email"])
