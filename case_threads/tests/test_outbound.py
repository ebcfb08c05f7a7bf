"""The agent's side of the thread (issue 10: F4, F5, F13, F20, F21), through Frappe's real receive
path and real Email Queue; the From/envelope test flushes the queue to a real SMTP capture."""

import email
import email.utils
from email import policy

import frappe
from frappe.core.doctype.communication.email import make as make_communication
from frappe.desk.form.load import getdoc
from frappe.tests.utils import FrappeTestCase

from case_threads.core import find_subject_token, token_from_message_id
from case_threads.core.outbound import split_ids
from case_threads.settings import site_secret
from case_threads.tests.mail_servers import smtp_capture
from case_threads.tests.utils import build_mail, case_of, communication_for, make_user, receive, unique

DOMAIN = "ob.test"
AGENT = "agent.ob@ob-staff.test"


def account(address, *, smtp=None, default=0, outgoing=1, name=None):
	"""An Email Account that pulls `address` (IMAP edge replaced by tests.utils.receive) and sends
	through `smtp` (an SMTPCapture) when given."""
	name = name or f"OB {address}"
	values = {
		"email_id": address,
		"enable_incoming": 1,
		"use_imap": 1,
		"email_server": "127.0.0.1",
		"incoming_port": 143,
		"password": (smtp and smtp.users.get(address)) or "unused",
		"enable_outgoing": outgoing,
		"smtp_server": smtp.host if smtp else "127.0.0.1",
		"smtp_port": smtp.port if smtp else 25,
		"use_tls": 0,
		"use_ssl_for_outgoing": 0,
		"default_outgoing": default,
	}
	if frappe.db.exists("Email Account", name):
		doc = frappe.get_doc("Email Account", name)
		doc.update(values)
		doc.save(ignore_permissions=True)
	else:
		doc = frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": name,
				"imap_folder": [{"folder_name": "INBOX"}],
				**values,
			}
		).insert(ignore_permissions=True)
	frappe.db.commit()
	return frappe.get_doc("Email Account", doc.name)


def route(address_pattern, **values):
	name = f"OB {address_pattern}"
	if frappe.db.exists("Email Route", name):
		doc = frappe.get_doc("Email Route", name)
		doc.update(values)
		doc.save(ignore_permissions=True)
	else:
		frappe.get_doc(
			{
				"doctype": "Email Route",
				"route_name": name,
				"address_pattern": address_pattern,
				"sequence": 50,
				**values,
			}
		).insert(ignore_permissions=True)
	frappe.db.commit()


def set_token_placement(placement):
	settings = frappe.get_single("Case Threads Settings")
	settings.token_placement = placement
	settings.subject_tag_format = "[#{token}]"
	settings.save(ignore_permissions=True)
	frappe.db.commit()


def queued_for(communication_name):
	names = frappe.get_all("Email Queue", filters={"communication": communication_name}, pluck="name")
	return [frappe.get_doc("Email Queue", name) for name in names]


def parsed(queue_row):
	return email.message_from_string(queue_row.message, policy=policy.default)


def as_agent(fn, *args, **kwargs):
	"""Run `fn` as the agent, as a desk request would."""
	user = frappe.session.user
	frappe.set_user(AGENT)
	try:
		return fn(*args, **kwargs)
	finally:
		frappe.set_user(user)


class OutboundTestCase(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.tag = unique("t")
		cls.support = f"support.{cls.tag}@{DOMAIN}"
		cls.mailbox = account(cls.support)
		# The site's default outgoing account (frappe.sendmail without a sender needs one).
		cls.default_box = account(f"default.{cls.tag}@{DOMAIN}", default=1, name="OB default")
		route(f"support.*@{DOMAIN}")
		# Replying from an email's own form needs Frappe's email right on Communication (Inbox User).
		make_user(AGENT, ["Case Agent", "Inbox User"], mailboxes=[cls.mailbox.name])
		set_token_placement("Subject and Header")

	def setUp(self):
		# Frappe caches the outgoing account per process; a request starts without that cache.
		frappe.local.outgoing_email_account = {}

	def customer_mail(self, subject=None, sender=None, to=None, **kwargs):
		sender = sender or f"{unique('cust')}@customer.test"
		raw = build_mail(subject or f"Printer broken {unique('s')}", sender, to=to or self.support, **kwargs)
		receive(self.mailbox, raw)
		frappe.db.commit()
		return communication_for(email.message_from_bytes(raw)["Message-ID"])

	def new_case(self, **kwargs):
		first = self.customer_mail(**kwargs)
		self.assertEqual(first.reference_doctype, "Case", "the customer's mail made no case")
		return frappe.get_doc("Case", first.reference_name), first


class TestEveryWayOfWritingIsACaseReply(OutboundTestCase):
	def test_reply_from_the_customers_email_form_lands_on_the_case_and_threads(self):
		"""Done 1: Reply on the email's own form (reference Communication), then the customer's
		answer with only In-Reply-To, and one with only the subject tag (Subject mode)."""
		set_token_placement("Subject")
		self.addCleanup(set_token_placement, "Subject and Header")
		case, first = self.new_case()
		self.assertFalse(case.first_responded_on)

		result = as_agent(
			make_communication,
			doctype="Communication",
			name=first.name,
			content="A technician is on the way.",
			subject=f"Re: {first.subject}",
			recipients=first.sender,
			send_email=1,
		)
		frappe.db.commit()
		reply = frappe.get_doc("Communication", result["name"])
		self.assertEqual((reply.reference_doctype, reply.reference_name), ("Case", case.name))
		self.assertEqual(reply.in_reply_to, first.name)
		case.reload()
		self.assertEqual(case.status, "Replied")
		self.assertTrue(case.first_responded_on)
		self.assertEqual(case.last_worked_by, AGENT)
		self.assertEqual(find_subject_token(reply.subject), case.thread_token)
		(queued,) = queued_for(reply.name)
		mail = parsed(queued)
		self.assertEqual(find_subject_token(str(mail["Subject"])), case.thread_token)
		self.assertEqual(split_ids(mail["In-Reply-To"]), [first.message_id])
		self.assertEqual(frappe.db.get_value("Communication", first.name, "status"), "Replied")

		# The customer's client keeps only In-Reply-To, and drops the subject tag.
		answer = self.customer_mail(
			subject=f"Re: {first.subject}", sender=first.sender, in_reply_to=f"<{reply.message_id}>"
		)
		self.assertEqual((answer.reference_doctype, answer.reference_name), ("Case", case.name))
		self.assertEqual(frappe.db.get_value("Case", case.name, "status"), "Open")

		# Another client drops every threading header; the subject tag is all there is.
		as_agent(
			make_communication,
			doctype="Communication",
			name=answer.name,
			content="Did it help?",
			subject=f"Re: {answer.subject}",
			recipients=first.sender,
			send_email=1,
		)
		frappe.db.commit()
		again = self.customer_mail(subject=f"Re: {reply.subject}", sender=first.sender)
		self.assertEqual((again.reference_doctype, again.reference_name), ("Case", case.name))

	def test_rest_make_with_either_reference_and_sendmail_land_on_the_case(self):
		"""`communication.email.make` with reference Case and Communication, and
		frappe.sendmail(reference_doctype="Case"): each is a sent email of the case."""
		case, _first = self.new_case()
		via_case = as_agent(
			make_communication,
			doctype="Case",
			name=case.name,
			content="First answer.",
			subject=f"Re: {case.subject}",
			recipients=case.raised_by,
			send_email=1,
		)
		frappe.db.commit()
		case.reload()
		self.assertEqual(case.status, "Replied")
		first_response = case.first_responded_on
		self.assertTrue(first_response)
		self.assertEqual(frappe.db.get_value("Communication", via_case["name"], "reference_name"), case.name)

		# The customer writes again; a scripted frappe.sendmail answers.
		self.customer_mail(subject=f"Re: {case.subject} [#{case.thread_token}]", sender=case.raised_by)
		self.assertEqual(frappe.db.get_value("Case", case.name, "status"), "Open")
		as_agent(
			frappe.sendmail,
			recipients=[case.raised_by],
			subject=f"Re: {case.subject}",
			message="Sent by a script.",
			reference_doctype="Case",
			reference_name=case.name,
		)
		frappe.db.commit()
		sent = frappe.get_all(
			"Communication",
			filters={"reference_doctype": "Case", "reference_name": case.name, "sent_or_received": "Sent"},
			fields=["name", "message_id", "subject"],
			order_by="creation asc",
		)
		self.assertEqual(len(sent), 2, sent)
		case.reload()
		self.assertEqual(case.status, "Replied")
		self.assertEqual(case.first_responded_on, first_response)  # set on the first one only
		(queued,) = queued_for(sent[1].name)
		# Sent by a script as the default account: leaves from the case's mailbox all the same.
		self.assertEqual(parsed(queued)["From"].addresses[0].addr_spec, self.support)
		self.assertEqual(parsed(queued)["Reply-To"].addresses[0].addr_spec, self.support)
		self.assertEqual(queued.email_account, self.mailbox.name)
		self.assertEqual(email.utils.parseaddr(queued.sender)[1], self.support)
		self.assertEqual(
			token_from_message_id(parsed(queued)["Message-Id"], site_secret()), case.thread_token
		)

		# A notification about the case to an agent is not a reply to the customer.
		frappe.sendmail(
			recipients=[AGENT],
			subject="Assigned",
			message="x",
			reference_doctype="Case",
			reference_name=case.name,
		)
		frappe.db.commit()
		self.assertEqual(
			frappe.db.count("Communication", {"reference_name": case.name, "sent_or_received": "Sent"}), 2
		)

	def test_a_forward_from_the_email_form_is_on_the_case(self):
		case, first = self.new_case()
		result = as_agent(
			make_communication,
			doctype="Communication",
			name=first.name,
			content="FYI",
			subject=f"Fw: {first.subject}",
			recipients="partner@partner.test",
			send_email=1,
		)
		frappe.db.commit()
		self.assertEqual(frappe.db.get_value("Communication", result["name"], "reference_name"), case.name)


class TestCaseMailbox(OutboundTestCase):
	def test_case_made_by_hand_from_an_unprocessed_email_belongs_to_its_mailbox(self):
		from case_threads import api

		lost = self.customer_mail(to=f"nobody.{self.tag}@elsewhere.test")
		self.assertFalse(lost.reference_name)
		parked = frappe.get_value("Unprocessed Email", {"communication": lost.name})
		made = api.unprocessed_create_case(name=parked)["case"]
		frappe.db.commit()
		self.assertEqual(frappe.db.get_value("Case", made, "email_account"), self.mailbox.name)
		# The sender joins; the unrouted address it was sent to is not the site's own to the app.
		self.assertIn(lost.sender, [r.email_id for r in frappe.get_doc("Case", made).participants])

	def test_only_a_case_manager_may_change_the_mailbox(self):
		case, _first = self.new_case()
		meta = frappe.get_meta("Case")
		self.assertEqual(meta.get_field("email_account").permlevel, 1)
		frappe.set_user(AGENT)
		try:
			self.assertNotIn(1, case.get_permlevel_access("write"))
			self.assertIn(1, case.get_permlevel_access("read"))
		finally:
			frappe.set_user("Administrator")


class TestFromTheCaseMailbox(OutboundTestCase):
	def test_reply_leaves_from_the_case_mailbox_not_the_default_account(self):
		"""Done 2: two accounts that send, the other one the site's default; the captured SMTP
		message and its envelope are from mailbox A, threaded on the customer's mail."""
		a, b, c = (f"{box}.{self.tag}@{DOMAIN}" for box in ("supa", "defb", "salc"))
		users = {a: "pw-a", b: "pw-b", c: "pw-c"}
		with smtp_capture(users) as smtp:
			box_a = account(a, smtp=smtp)
			box_b = account(b, smtp=smtp, default=1)
			box_c = account(c, smtp=smtp)
			self.addCleanup(self.disable, box_a.name, box_b.name, box_c.name)
			route(f"supa.*@{DOMAIN}")
			make_user(AGENT, ["Case Agent", "Inbox User"], mailboxes=[box_a.name, box_b.name, box_c.name])
			frappe.local.outgoing_email_account = {}

			raw = build_mail(
				f"Wrong account {self.tag}",
				f"{unique('cust')}@customer.test",
				to=a,
				references="<root.1@customer.test> <older.2@customer.test>",
			)
			receive(box_a, raw)
			frappe.db.commit()
			first = communication_for(email.message_from_bytes(raw)["Message-ID"])
			case = frappe.get_doc("Case", first.reference_name)
			self.assertEqual(case.email_account, box_a.name)

			# No sender picked (REST, or a composer without a From field) and the default account's
			# address (what the composer fills in): both leave from A.
			for sender in (None, b):
				result = as_agent(
					make_communication,
					doctype="Case",
					name=case.name,
					content="From the right mailbox.",
					subject=f"Re: {case.subject}",
					recipients=case.raised_by,
					sender=sender,
					send_email=1,
				)
				frappe.db.commit()
				(queued,) = queued_for(result["name"])
				self.assertEqual(queued.email_account, box_a.name)
				queued.send()
				frappe.db.commit()
				captured = self.captured(smtp, queued.message_id)
				self.assertEqual(captured["From"].addresses[0].addr_spec, a)
				self.assertEqual(captured["Reply-To"].addresses[0].addr_spec, a)
				envelope_from, rcpt = smtp.envelopes[smtp.messages.index(captured)]
				self.assertEqual(envelope_from, a)
				self.assertEqual(rcpt, [case.raised_by])
				self.assertEqual(split_ids(captured["In-Reply-To"]), [first.message_id])
				refs = split_ids(captured["References"])
				self.assertEqual(refs[-1], first.message_id)
				self.assertIn(first.message_id, refs)
				self.assertEqual(frappe.db.get_value("Communication", result["name"], "sender"), a)

			# Picked explicitly: another sending account is honoured.
			result = as_agent(
				make_communication,
				doctype="Case",
				name=case.name,
				content="From sales.",
				subject=f"Re: {case.subject}",
				recipients=case.raised_by,
				sender=c,
				send_email=1,
			)
			frappe.db.commit()
			(queued,) = queued_for(result["name"])
			queued.send()
			frappe.db.commit()
			captured = self.captured(smtp, queued.message_id)
			self.assertEqual(captured["From"].addresses[0].addr_spec, c)
			self.assertEqual(smtp.envelopes[smtp.messages.index(captured)][0], c)

	@staticmethod
	def disable(*accounts):
		for name in accounts:
			frappe.db.set_value("Email Account", name, {"enable_outgoing": 0, "default_outgoing": 0})
		frappe.db.commit()
		frappe.local.outgoing_email_account = {}

	@staticmethod
	def captured(smtp, message_id):
		testing = frappe.flags.testing_email
		for message in smtp.messages:
			if (message["Message-ID"] or "").strip().strip("<>") == message_id:
				return message
		raise AssertionError(f"<{message_id}> was not sent over SMTP (testing_email={testing})")

	def setUp(self):
		super().setUp()
		self._testing_email = frappe.flags.testing_email
		frappe.flags.testing_email = True  # under run-tests Frappe would otherwise skip the SMTP call

	def tearDown(self):
		frappe.flags.testing_email = self._testing_email


class TestParticipants(OutboundTestCase):
	def test_participants_reply_all_and_the_case_number_rule(self):
		"""Done 3: the raiser and Cc'd people are participants (not our mailboxes, not internal
		users); Reply All proposes them; a participant's reply with the case number is trusted, a
		stranger's is not."""
		set_token_placement("Header")
		self.addCleanup(set_token_placement, "Subject and Header")
		bob = f"{unique('bob')}@customer.test"
		alias = f"support.alias.{self.tag}@{DOMAIN}"  # taken by the route: the site's own
		case, first = self.new_case(cc=f"Bob B <{bob}>, {AGENT}, {self.support}, {alias}")
		people = {row.email_id: row.full_name for row in case.participants}
		self.assertEqual(set(people), {first.sender, bob})
		self.assertEqual(people[bob], "Bob B")

		getdoc("Case", case.name)
		onload = frappe.response.docs[0].get("__onload")["case_threads_composer"]
		self.assertEqual(onload["sender"], self.support)
		self.assertEqual(onload["reply_all_cc"], [bob])

		# A participant added by hand on the form (no email of the case names her).
		carol = f"{unique('carol')}@customer.test"
		case.reload()
		case.append("participants", {"email_id": carol, "full_name": "Carol"})
		case.save(ignore_permissions=True)
		frappe.db.commit()

		for who in (bob, carol):
			mail = self.customer_mail(subject=f"About {case.name}", sender=who)
			self.assertEqual((mail.reference_doctype, mail.reference_name), ("Case", case.name), who)

		stranger = self.customer_mail(subject=f"About {case.name}", sender=f"{unique('eve')}@evil.test")
		self.assertNotEqual(stranger.reference_name, case.name)
		self.assertNotIn(
			stranger.sender, [r.email_id for r in frappe.get_doc("Case", case.name).participants]
		)

	def test_clone_keeps_mailbox_and_participants(self):
		bob = f"{unique('bob')}@customer.test"
		case, first = self.new_case(cc=bob)
		case.status = "Closed"
		case.save(ignore_permissions=True)
		frappe.db.commit()
		late = self.customer_mail(subject=f"Re: {case.subject} [#{case.thread_token}]", sender=first.sender)
		clone = frappe.get_doc("Case", late.reference_name)
		self.assertEqual(clone.cloned_from, case.name)
		self.assertEqual(clone.email_account, self.mailbox.name)
		self.assertEqual({r.email_id for r in clone.participants}, {first.sender, bob})
