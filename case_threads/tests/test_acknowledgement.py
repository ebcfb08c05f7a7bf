"""Acknowledgement of a new case and loop protection (issue 10: F22), through Frappe's real
receive path and Email Queue."""

import email
import email.utils
from email import policy
from email.message import EmailMessage

import frappe
from frappe.tests.utils import FrappeTestCase

from case_threads.core.outbound import split_ids
from case_threads.mail.acknowledge import TEMPLATES
from case_threads.tests.test_outbound import DOMAIN, account, route
from case_threads.tests.utils import build_mail, communication_for, make_user, receive, unique

AUTOMATED = "Automated Message"


def acks_to(address):
	"""The automatic mails the app made for `address`: (Communications, Email Queue rows)."""
	comms = frappe.get_all(
		"Communication",
		filters={"communication_type": AUTOMATED, "recipients": address},
		fields=["name", "subject", "reference_name", "in_reply_to"],
		order_by="creation asc",
	)
	queue = frappe.get_all(
		"Email Queue",
		filters={"communication": ("in", [c.name for c in comms] or ["-"])},
		pluck="name",
	)
	return comms, [frappe.get_doc("Email Queue", q) for q in queue]


def queued_to(address):
	rows = frappe.get_all("Email Queue Recipient", filters={"recipient": address}, pluck="parent")
	return len(set(rows))


def notes(case_name):
	return frappe.get_all(
		"Comment",
		filters={"reference_doctype": "Case", "reference_name": case_name, "comment_type": "Info"},
		pluck="content",
	)


def bounce_for(address, to):
	"""A real DSN (RFC 3464) reporting `address` as failed."""
	msg = EmailMessage()
	msg["From"] = f"MAILER-DAEMON@mx.{DOMAIN}"
	msg["To"] = to
	msg["Subject"] = "Undelivered Mail Returned to Sender"
	msg["Message-ID"] = f"<{unique('dsn')}@mx.{DOMAIN}>"
	msg["Auto-Submitted"] = "auto-replied"
	msg.set_content("This is the mail system. Your message could not be delivered.")
	msg.make_mixed()
	status = email.message_from_string(
		f"Reporting-MTA: dns; mx.{DOMAIN}\n\nFinal-Recipient: rfc822; {address}\nAction: failed\nStatus: 5.1.1\n"
	)
	part = EmailMessage()
	part.set_type("message/delivery-status")
	part.set_payload([status])
	msg.attach(part)
	msg.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b1"')
	msg.set_boundary("b1")
	return msg.as_bytes()


class AckTestCase(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.tag = unique("a")
		cls.support = f"ack.{cls.tag}@{DOMAIN}"
		cls.mailbox = account(cls.support, name=f"ACK {cls.tag}")
		route(f"ack.*@{DOMAIN}", acknowledge=1, acknowledgement_template="Case Acknowledgement")
		settings = frappe.get_single("Case Threads Settings")
		settings.update({"auto_mail_per_hour": 10, "auto_mail_per_day": 40, "bounce_suppression_days": 30})
		settings.token_placement = "Subject and Header"
		settings.save(ignore_permissions=True)
		frappe.db.commit()

	def setUp(self):
		frappe.local.outgoing_email_account = {}

	def mail(self, subject=None, sender=None, to=None, **kwargs):
		raw = build_mail(
			subject or f"Help {unique('s')}", sender or self.customer(), to=to or self.support, **kwargs
		)
		receive(self.mailbox, raw)
		frappe.db.commit()
		return communication_for(email.message_from_bytes(raw)["Message-ID"])

	@staticmethod
	def customer():
		return f"{unique('cust')}@customer.test"


class TestAcknowledgement(AckTestCase):
	def test_templates_ship_in_english_spanish_and_french(self):
		for name, (subject, _) in TEMPLATES.items():
			self.assertEqual(frappe.db.get_value("Email Template", name, "subject"), subject)
		doc = {"name": "CASE-00042", "subject": "Printer", "raised_by": "ada@x.test", "raised_by_name": "Ada"}
		rendered = frappe.get_doc("Email Template", "Case Acknowledgement (Español)").get_formatted_subject(
			doc
		)
		self.assertEqual(rendered, "Hemos recibido su solicitud CASE-00042: Printer")

	def test_exactly_one_acknowledgement_for_a_new_case_none_for_a_reply(self):
		"""Done 4 (first half): one, from the case mailbox, threaded, with the case number, auto
		headers; a reply to the case gets none; Frappe's enable_auto_reply adds none."""
		frappe.db.set_value("Email Account", self.mailbox.name, "enable_auto_reply", 1)
		self.addCleanup(frappe.db.set_value, "Email Account", self.mailbox.name, "enable_auto_reply", 0)
		self.mailbox.reload()
		customer = self.customer()
		first = self.mail(sender=customer)
		case = frappe.get_doc("Case", first.reference_name)

		comms, queue = acks_to(customer)
		self.assertEqual(len(comms), 1)
		self.assertEqual(len(queue), 1)
		self.assertEqual(queued_to(customer), 1, "Frappe's own auto-reply sent a second mail")
		mail = email.message_from_string(queue[0].message, policy=policy.default)
		self.assertIn(case.name, str(mail["Subject"]))
		self.assertIn(f"[#{case.thread_token}]", str(mail["Subject"]))
		self.assertEqual(mail["From"].addresses[0].addr_spec, self.support)
		self.assertEqual(parsed_addr(queue[0].sender), self.support)
		self.assertEqual(mail["Auto-Submitted"], "auto-replied")
		self.assertEqual(mail["X-Auto-Response-Suppress"], "All")
		self.assertEqual(split_ids(mail["In-Reply-To"]), [first.message_id])
		self.assertEqual(comms[0].reference_name, case.name)
		case.reload()
		self.assertEqual(case.status, "Open")  # an acknowledgement is not the agent's answer
		self.assertFalse(case.first_responded_on)

		# The customer answers the acknowledgement: a reply, never acknowledged.
		reply = self.mail(
			subject=f"Re: {mail['Subject']}", sender=customer, in_reply_to=f"<{queue[0].message_id}>"
		)
		self.assertEqual(reply.reference_name, case.name)
		self.assertEqual(len(acks_to(customer)[0]), 1)
		self.assertEqual(queued_to(customer), 1)

	def test_no_acknowledgement_for_unprocessed_auto_reply_or_bounce(self):
		"""Done 4 (second half)."""
		customer = self.customer()
		unrouted = self.mail(sender=customer, to=f"nobody.{self.tag}@elsewhere.test")
		self.assertFalse(unrouted.reference_name)
		self.assertTrue(frappe.db.exists("Unprocessed Email", {"communication": unrouted.name}))

		ooo = self.mail(subject="Out of office", sender=customer, headers={"Auto-Submitted": "auto-replied"})
		self.assertFalse(ooo.reference_name)

		bounce_raw = bounce_for(customer, self.support)
		receive(self.mailbox, bounce_raw)
		frappe.db.commit()
		bounce = communication_for(email.message_from_bytes(bounce_raw)["Message-ID"])
		self.assertFalse(bounce.reference_name)
		self.assertEqual(
			frappe.db.get_value("Unprocessed Email", {"communication": bounce.name}, "reason"), "Bounce"
		)
		self.assertEqual(acks_to(customer)[0], [])
		self.assertEqual(queued_to(customer), 0)
		self.assertEqual(queued_to(f"MAILER-DAEMON@mx.{DOMAIN}"), 0)

	def test_no_acknowledgement_on_a_route_that_does_not_ask(self):
		plain = f"plain.{self.tag}@{DOMAIN}"
		route(f"plain.{self.tag}@{DOMAIN}", acknowledge=0)
		customer = self.customer()
		first = self.mail(sender=customer, to=plain)
		self.assertTrue(first.reference_name)
		self.assertEqual(queued_to(customer), 0)


class TestLoopProtection(AckTestCase):
	def test_fifty_out_of_office_replies_make_no_mail_and_reopen_nothing(self):
		"""Done 5 (auto-replies threaded on a case): attached, never answered, never reopening."""
		customer = self.customer()
		first = self.mail(sender=customer)
		case = frappe.get_doc("Case", first.reference_name)
		(_ack,), (queued,) = acks_to(customer)
		case.status = "Resolved"
		case.save(ignore_permissions=True)
		frappe.db.commit()
		for i in range(50):
			auto = self.mail(
				subject=f"Automatic reply: {case.subject} {i}",
				sender=customer,
				in_reply_to=f"<{queued.message_id}>",
				headers={"Auto-Submitted": "auto-replied"},
			)
			self.assertEqual(auto.reference_name, case.name)
		case.reload()
		self.assertEqual((case.status, case.reopen_count or 0), ("Resolved", 0))
		self.assertEqual(len(acks_to(customer)[0]), 1)
		self.assertEqual(queued_to(customer), 1)

	def test_fifty_new_mails_from_one_autoresponder_are_capped_and_noted(self):
		"""Done 5 (an autoresponder without any auto-reply header, new subject each time: every mail
		opens a case): at most the hourly cap is sent, every held back one noted on its case."""
		robot = self.customer()
		cases = []
		for i in range(50):
			mail = self.mail(subject=f"Your ticket {i} {unique('r')}", sender=robot)
			cases.append(mail.reference_name)
		self.assertEqual(len(set(cases)), 50)
		comms, queue = acks_to(robot)
		self.assertEqual(len(comms), 10)
		self.assertEqual(len(queue), 10)
		self.assertEqual(queued_to(robot), 10)
		acknowledged = {c.reference_name for c in comms}
		held = [c for c in cases if c not in acknowledged]
		self.assertEqual(len(held), 40)
		for name in held:
			(note,) = [n for n in notes(name) if "Acknowledgement" in n]
			self.assertIn(robot, note)
			self.assertIn("hourly maximum", note)

	def test_no_acknowledgement_after_a_permanent_bounce_nor_to_noreply_or_own_mailbox(self):
		customer = self.customer()
		first = self.mail(sender=customer)
		self.assertEqual(len(acks_to(customer)[0]), 1)
		receive(self.mailbox, bounce_for(customer, self.support))
		frappe.db.commit()
		second = self.mail(sender=customer)
		self.assertNotEqual(second.reference_name, first.reference_name)
		self.assertEqual(len(acks_to(customer)[0]), 1)
		self.assertTrue(any("bounced" in n for n in notes(second.reference_name)))

		noreply = f"no-reply@{unique('shop')}.test"
		case = self.mail(sender=noreply).reference_name
		self.assertEqual(queued_to(noreply), 0)
		self.assertTrue(any("does not take replies" in n for n in notes(case)))

		colleague = make_user(f"{unique('staff')}@staff.test", ["Case Agent"])
		case = self.mail(sender=colleague).reference_name
		self.assertTrue(case)
		self.assertEqual(queued_to(colleague), 0)
		self.assertTrue(any("internal user" in n for n in notes(case)))

		other_box = account(f"other.{self.tag}@{DOMAIN}", name=f"ACK other {self.tag}")
		case = self.mail(sender=other_box.email_id).reference_name
		self.assertEqual(queued_to(other_box.email_id), 0)
		self.assertTrue(any("own mailboxes" in n for n in notes(case)))


def parsed_addr(value):
	return email.utils.parseaddr(value)[1]
