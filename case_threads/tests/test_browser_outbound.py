"""The agent's side of the thread in a real browser (issue 10, Done 7): the composer on a case has
the case's mailbox preselected (not the site's default account), Reply All proposes the
participants, and Reply on the form of one of the case's emails makes a reply on the case.
Screenshots as in test_browser (CASE_THREADS_SCREENSHOTS)."""

import email

import frappe
from frappe.tests.utils import FrappeTestCase

from case_threads.tests.browser_utils import Desk, LiveDesk, desk_user
from case_threads.tests.test_outbound import DOMAIN, account, route
from case_threads.tests.utils import build_mail, communication_for, receive, unique

AGENT = "ct.outbound@browser-ct.test"


class TestBrowserOutbound(LiveDesk, FrappeTestCase):
	@classmethod
	def set_up_desk(cls):
		cls.tag = unique("b")
		cls.box = account(f"brw.{cls.tag}@{DOMAIN}", name=f"BRW {cls.tag}")
		# The site's default outgoing account: what Frappe's composer would otherwise pick.
		cls.default_box = account(f"default.{cls.tag}@{DOMAIN}", default=1, name="OB default")
		route(f"brw.*@{DOMAIN}")
		desk_user(AGENT, ["Case Agent", "Inbox User"], [cls.box.name, cls.default_box.name])

	def setUp(self):
		self.desk = Desk(self.browser, self.url, "outbound")
		# The desk's first load is slow on a busy machine (it passed at 20 s on a quiet one).
		self.desk.context.set_default_timeout(60_000)
		self.desk.context.set_default_navigation_timeout(90_000)
		self.desk.login(AGENT)

	def tearDown(self):
		self.desk.close()

	def composer(self):
		dialog = self.desk.page.locator(".modal.show .modal-dialog").filter(
			has=self.desk.page.locator('[data-fieldname="sender"]')
		)
		dialog.wait_for(state="visible")
		self.desk.wait_idle()
		return dialog

	def test_composer_preselects_the_mailbox_and_reply_on_an_email_lands_on_the_case(self):
		customer = f"{unique('ada')}@customer.test"
		bob = f"{unique('bob')}@customer.test"
		raw = build_mail(unique("Scanner jammed"), customer, to=self.box.email_id, cc=bob)
		receive(self.box, raw)
		frappe.db.commit()
		first = communication_for(email.message_from_bytes(raw)["Message-ID"])
		case = first.reference_name
		self.assertTrue(case)
		desk, page = self.desk, self.desk.page

		# New Email on the case: From is the case's mailbox, not the default account.
		desk.goto(f"case/{case}")
		desk.wait_form("Case", case)
		page.locator(".timeline-actions .action-btn", has_text="New Email").click()
		dialog = self.composer()
		sender = dialog.locator('[data-fieldname="sender"] select')
		page.wait_for_function(
			"([el, v]) => el.value === v", arg=[sender.element_handle(), self.box.email_id]
		)
		self.assertEqual(sender.input_value(), self.box.email_id)
		desk.shot("composer-mailbox-preselected")
		# The close button, not Escape: a CI run once saw Escape leave this dialog open for 60 s.
		dialog.locator(".btn-modal-close").first.click()
		dialog.wait_for(state="hidden")

		# Reply All on the customer's email card proposes the Cc'd participant.
		page.locator(f'.timeline-item[data-name="{first.name}"] .action-btn.reply-all').first.click()
		dialog = self.composer()
		page.wait_for_function(
			"([el, v]) => (el.value || '').includes(v)",
			arg=[dialog.locator('[data-fieldname="cc"] input').element_handle(), bob],
		)
		self.assertEqual(dialog.locator('[data-fieldname="sender"] select').input_value(), self.box.email_id)
		desk.shot("reply-all-participants")
		# The close button, not Escape: a CI run once saw Escape leave this dialog open for 60 s.
		dialog.locator(".btn-modal-close").first.click()
		dialog.wait_for(state="hidden")

		# Reply on the email's own form → a reply on the case.
		desk.goto(f"communication/{first.name}")
		desk.wait_form("Communication", first.name)
		page.locator(".page-actions button", has_text="Reply").first.click()
		dialog = self.composer()
		dialog.locator('[data-fieldname="content"] .ql-editor[contenteditable="true"]').click()
		page.keyboard.type("Open the lid and pull gently.")
		desk.shot("reply-from-email-form")
		dialog.locator(".btn-primary", has_text="Send").click()
		dialog.wait_for(state="hidden")
		desk.wait_idle()
		frappe.db.commit()  # see what the live server committed
		sent = frappe.get_all(
			"Communication",
			filters={"reference_doctype": "Case", "reference_name": case, "sent_or_received": "Sent"},
			fields=["name", "sender", "owner", "in_reply_to"],
		)
		self.assertEqual(len(sent), 1, sent)
		self.assertEqual(
			(sent[0].sender, sent[0].owner, sent[0].in_reply_to), (self.box.email_id, AGENT, first.name)
		)
		self.assertEqual(frappe.db.get_value("Case", case, ["status", "last_worked_by"]), ("Replied", AGENT))

		desk.goto(f"case/{case}")
		desk.wait_form("Case", case)
		page.locator(f'.timeline-item[data-name="{sent[0].name}"]').first.wait_for()
		desk.shot("reply-on-the-case")
		self.assertEqual(desk.errors, [])
