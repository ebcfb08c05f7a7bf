"""Content safety (issue 6): markup in inbound mail stays inert, payloads are stored literally."""

import email
import email.policy

import frappe

from case_threads.tests.test_inbound import InboundTestCase
from case_threads.tests.utils import build_mail, communication_for, receive, unique

SCRIPT_BODY = """<html><body><p onclick="steal()">Hi</p><script>alert(document.cookie)</script>
<img src=x onerror="alert(1)"><a href="javascript:alert(2)">click</a></body></html>"""


class TestContentSafety(InboundTestCase):
	def receive_one(self, subject, body="Hello", subtype="plain"):
		raw = build_mail(subject, f"{unique('x')}@customer.test", body=body)
		if subtype == "html":
			message = email.message_from_bytes(raw, policy=email.policy.default)
			message.set_content(body, subtype="html")
			raw = message.as_bytes()
		receive(self.mailbox, raw)
		comm = communication_for(email.message_from_bytes(raw)["Message-ID"])
		return comm, frappe.get_doc("Case", comm.reference_name)

	def test_html_and_script_in_body_and_subject_are_inert(self):
		comm, case = self.receive_one(
			'<img src=x onerror="alert(1)">Help <script>alert(2)</script>', SCRIPT_BODY, "html"
		)
		for text in (comm.content, comm.subject, case.subject):
			lowered = text.lower()
			self.assertNotIn("<script", lowered)
			self.assertNotIn("onerror=", lowered)
			self.assertNotIn("onclick=", lowered)
			self.assertNotIn("javascript:", lowered)

	def test_sql_and_format_payloads_are_stored_literally(self):
		subject = "'; DROP TABLE `tabCase`; -- {0} {token} %s %(name)s \\x00 " + unique("p")
		comm, case = self.receive_one(subject)
		self.assertEqual(case.subject, subject)
		self.assertEqual(comm.subject, subject[:140])
		self.assertTrue(frappe.db.table_exists("Case"))
