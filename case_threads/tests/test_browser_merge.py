"""Merge and Split in the desk (issue 12, F24), in Chromium against live_server, with screenshots
($CASE_THREADS_SCREENSHOTS, default <repo>/test-output/screenshots/merge-split-*.png)."""

import email

import frappe
from frappe.tests.utils import FrappeTestCase

from case_threads.tests.browser_utils import Desk, LiveDesk, desk_user
from case_threads.tests.test_inbound import SUPPORT, setup_routing
from case_threads.tests.utils import build_mail, communication_for, make_mailbox, receive, unique

AGENT = "ct.merger@browser-ct.test"


class TestBrowserMergeSplit(LiveDesk, FrappeTestCase):
	@classmethod
	def set_up_desk(cls):
		setup_routing()
		frappe.db.set_default("desktop:home_page", "workspace")
		frappe.db.commit()
		# The live server reads System Settings and the boot info through Redis.
		frappe.clear_document_cache("System Settings", "System Settings")
		frappe.cache.delete_value("bootinfo")
		cls.support = make_mailbox(SUPPORT)
		desk_user(AGENT, ["Case Agent"])

	def mail(self, sender, subject, **kwargs):
		raw = build_mail(subject, f"Grace Hopper <{sender}>", to=SUPPORT, cc="boss@customer.test", **kwargs)
		receive(self.support, raw)
		frappe.db.commit()
		return communication_for(email.message_from_bytes(raw)["Message-ID"])

	def test_agent_merges_a_case_into_another_then_splits_it(self):
		sender = f"{unique('grace')}@customer.test"
		a_first = self.mail(sender, unique("Printer broken"))
		b_first = self.mail(sender, unique("Printer still broken"))
		a, b = a_first.reference_name, b_first.reference_name
		b_token = frappe.db.get_value("Case", b, "thread_token")
		b_second = self.mail(sender, f"Re: [#{b_token}] and the scanner too")
		self.assertNotEqual(a, b)
		self.assertEqual(b_second.reference_name, b)

		desk = Desk(self.browser, self.url, "merge-split")
		self.addCleanup(desk.close)
		# Two cores shared by several test runs: the desk's first load can take longer than 20 s.
		desk.context.set_default_timeout(90_000)
		try:
			desk.login(AGENT)
		except Exception:
			desk.shot("login-failed")
			raise
		page = desk.page

		# Merge B into A from B's form.
		desk.goto(f"case/{b}")
		desk.wait_form("Case", b)
		desk.shot("case-b")
		desk.group_button("Case", "Merge into")
		dialog = desk.dialog(f"Merge {b} into another case")
		dialog.locator('[data-fieldname="target"] input').fill(a)
		desk.wait_idle()
		dialog.locator(".modal-title").click()  # closes the link's suggestion list
		desk.shot("merge-dialog")
		dialog.locator(".btn-primary").click()
		self.assertEqual(desk.alert("merged into"), f"{b} merged into {a}.")
		desk.wait_form("Case", a)
		frappe.db.commit()
		self.assertEqual(frappe.db.get_value("Case", b, ["status", "merged_into"]), ("Closed", a))
		self.assertEqual(
			{b_first.name, b_second.name}
			& set(frappe.get_all("Communication", {"reference_name": a}, pluck="name")),
			{b_first.name, b_second.name},
		)
		# A's timeline shows B's emails, each with its header line (From name and address, To, Cc).
		item = page.locator(f'.timeline-item[data-name="{b_second.name}"]').first
		item.wait_for()
		header = item.locator(".ct-email-header")
		header.wait_for()
		text = header.inner_text()
		for part in (f"Grace Hopper <{sender}>", SUPPORT, "boss@customer.test", "and the scanner too"):
			self.assertIn(part, text)
		desk.shot("merged-into-a")

		# Split A from B's second email onwards.
		desk.group_button("Case", "Split")
		dialog = desk.dialog("Split Case")
		dialog.locator('[data-fieldname="communication"] select').select_option(b_second.name)
		desk.shot("split-dialog")
		dialog.locator(".btn-primary").click()
		message = desk.alert("Split into")
		frappe.db.commit()
		new = frappe.db.get_value("Communication", b_second.name, "reference_name")
		self.assertNotIn(new, (a, b))
		self.assertEqual(message, f"Split into the new case {new}.")
		desk.wait_form("Case", new)
		page.locator(f'.timeline-item[data-name="{b_second.name}"]').first.wait_for()
		desk.shot("split-new-case")
		self.assertEqual(
			set(frappe.get_all("Communication", {"reference_name": a}, pluck="name")),
			{a_first.name, b_first.name},
		)
		self.assertEqual(desk.errors, [])
