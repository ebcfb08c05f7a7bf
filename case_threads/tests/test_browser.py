"""The desk in a real browser (issue 5): Chromium driven by Playwright against live_server.

Each scenario logs in through /login and saves a full-page screenshot per step in
$CASE_THREADS_SCREENSHOTS (default <repo>/test-output/screenshots/). Chromium or playwright
missing fails the module with what to install (scripts/install-test-deps).
"""

import email
from urllib.parse import quote

import frappe
from frappe.tests.utils import FrappeTestCase

from case_threads.tests.browser_utils import Desk, LiveDesk, desk_user, screenshot_dir
from case_threads.tests.test_inbound import SUPPORT, setup_routing
from case_threads.tests.utils import build_mail, communication_for, make_mailbox, receive, unique

# No route covers these addresses (the catch-all route is *@ct.test): their mail waits unprocessed.
DESK = "desk@browser-ct.test"
SALES = "sales@browser-ct.test"
MANAGER = "ct.manager@browser-ct.test"
AGENT = "ct.agent@browser-ct.test"


class TestBrowser(LiveDesk, FrappeTestCase):
	@classmethod
	def set_up_desk(cls):
		setup_routing()
		# List filters a user saved in an earlier run would change what the list shows.
		frappe.db.delete("__UserSettings", {"user": ("in", (MANAGER, AGENT))})
		frappe.cache.delete_value("_user_settings")
		cls.support = make_mailbox(SUPPORT)
		cls.desk = make_mailbox(DESK)
		cls.sales = make_mailbox(SALES)
		desk_user(MANAGER, ["Case Manager"])
		# An agent sees a mailbox's mail through Frappe's Inbox User role and a User Emails row.
		desk_user(AGENT, ["Case Agent", "Inbox User"], [cls.support.name, cls.desk.name, cls.sales.name])

	def setUp(self):
		self.sessions = []

	def tearDown(self):
		for session in self.sessions:
			session.close()

	def open_desk(self, scenario, user):
		session = Desk(self.browser, self.url, scenario)
		self.sessions.append(session)
		session.login(user)
		return session

	def mail(self, mailbox, sender, subject=None, **kwargs):
		"""A customer email received by `mailbox`; returns its Communication."""
		raw = build_mail(subject or unique("Question"), sender, to=mailbox.email_id, **kwargs)
		receive(mailbox, raw)
		frappe.db.commit()
		return communication_for(email.message_from_bytes(raw)["Message-ID"])

	def see_server_writes(self):
		"""End this connection's read snapshot so that what the live server committed is visible."""
		frappe.db.commit()

	def unprocessed_of(self, comm):
		return frappe.get_doc("Unprocessed Email", {"communication": comm.name})

	def test_manager_creates_email_route_in_the_form(self):
		desk = self.open_desk("email-route", MANAGER)
		route_name = unique("Browser route")
		desk.goto("email-route/new")
		desk.wait_form("Email Route")
		page = desk.page
		page.locator('.frappe-control[data-fieldname="route_name"] input').fill(route_name)
		page.locator('.frappe-control[data-fieldname="sequence"] input').fill("42")
		page.locator('.frappe-control[data-fieldname="address_pattern"] input').fill(
			"orders+*@browser-ct.test"
		)
		page.locator('.frappe-control[data-fieldname="priority"] select').select_option("High")
		page.locator('.frappe-control[data-fieldname="case_type"] input').fill("Orders")
		desk.shot("filled")
		page.keyboard.press("Control+s")
		desk.wait_form("Email Route", route_name)
		desk.shot("saved")
		self.see_server_writes()

		route = frappe.db.get_value(
			"Email Route",
			route_name,
			["sequence", "address_pattern", "priority", "case_type", "enabled", "owner"],
			as_dict=True,
		)
		self.assertEqual(
			route,
			{
				"sequence": 42,
				"address_pattern": "orders+*@browser-ct.test",
				"priority": "High",
				"case_type": "Orders",
				"enabled": 1,
				"owner": MANAGER,
			},
		)

	def test_agent_creates_connects_and_disconnects_from_the_email(self):
		sender = f"{unique('ada')}@customer.test"
		first = self.mail(self.desk, sender, unique("Broken printer"))
		second = self.mail(self.desk, sender, unique("Printer again"))
		desk = self.open_desk("communication", AGENT)
		page = desk.page

		# Create Case, pre-filled from the email.
		desk.goto(f"communication/{first.name}")
		desk.wait_form("Communication", first.name)
		desk.shot("email")
		desk.group_button("Case", "Create Case")
		dialog = desk.dialog("Create Case")
		self.assertEqual(dialog.locator('[data-fieldname="subject"] input').input_value(), first.subject)
		dialog.locator('[data-fieldname="priority"] select').select_option("High")
		desk.shot("create-case-dialog")
		dialog.locator(".btn-primary").click()
		message = desk.alert("created")
		self.see_server_writes()
		case = frappe.db.get_value("Communication", first.name, "reference_name")
		self.assertEqual(frappe.db.get_value("Communication", first.name, "reference_doctype"), "Case")
		self.assertEqual(message, f"Case {case} created.")
		self.assertEqual(frappe.db.get_value("Case", case, ["priority", "raised_by"]), ("High", sender))
		self.assertEqual(self.unprocessed_of(first).status, "Processed")
		desk.wait_form("Communication", first.name)
		page.locator('.page-actions .inner-group-button[data-label="Case"]').wait_for()
		desk.shot("case-created")

		# Connect to Case: the dialog lists the sender's cases.
		desk.goto(f"communication/{second.name}")
		desk.wait_form("Communication", second.name)
		desk.group_button("Case", "Connect to Case")
		dialog = desk.dialog("Connect to Case")
		pick = dialog.locator("table.ct-history a.ct-pick", has_text=case)
		pick.wait_for()
		row = dialog.locator("table.ct-history tbody tr", has=page.locator("a.ct-pick", has_text=case))
		self.assertIn(first.subject, row.inner_text())
		self.assertIn("Open", row.inner_text())
		desk.shot("connect-dialog")
		page.screenshot(path=str(self.docs_path("connect-to-case-dialog.png")))
		pick.click()
		self.assertEqual(desk.alert("connected"), f"Email connected to {case}.")
		self.see_server_writes()
		self.assertEqual(
			frappe.db.get_value("Communication", second.name, ["reference_doctype", "reference_name"]),
			("Case", case),
		)
		desk.wait_form("Communication", second.name)
		desk.shot("connected")

		# Disconnect from Case, after a confirmation.
		page.wait_for_function("() => cur_frm.doc.reference_name")
		desk.group_button("Case", "Disconnect from Case")
		confirm = desk.dialog("Confirm")
		self.assertIn(case, confirm.inner_text())
		desk.shot("disconnect-confirm")
		confirm.locator(".btn-primary").click()
		# Back in the queue (issue 12): the message names the re-opened Unprocessed Email.
		queued = self.unprocessed_of(second).name
		self.assertEqual(
			desk.alert("disconnected"),
			f"Email disconnected from {case}; it waits in the Unprocessed queue as {queued}.",
		)
		self.see_server_writes()
		self.assertEqual(
			frappe.db.get_value("Communication", second.name, ["reference_doctype", "reference_name"]),
			(None, None),
		)
		desk.wait_form("Communication", second.name)
		desk.shot("disconnected")
		self.assertEqual(desk.errors, [])

	def docs_path(self, name):
		# The README's pictures (docs/screenshots/) are refreshed from here by hand: a test run
		# leaves the working tree as it found it.
		path = screenshot_dir() / "readme"
		path.mkdir(exist_ok=True)
		return path / name

	def test_unprocessed_email_list_and_actions(self):
		suffix = unique("q")
		at_desk = [
			self.mail(self.desk, f"{unique('c')}@customer.test", f"Unrouted {suffix} {i}") for i in range(3)
		]
		at_sales = self.mail(self.sales, f"{unique('c')}@customer.test", f"Unrouted {suffix} sales")
		target = self.mail(self.support, f"{unique('t')}@customer.test", unique("Routed"))
		target_case = target.reference_name
		self.assertTrue(target_case)

		desk = self.open_desk("unprocessed", AGENT)
		page = desk.page
		frappe.set_user(AGENT)
		waiting = frappe.get_list("Unprocessed Email", filters={"status": "Unprocessed"}, pluck="name")
		waiting_at_desk = frappe.get_list(
			"Unprocessed Email",
			filters={"status": "Unprocessed", "email_account": self.desk.name},
			pluck="name",
		)
		frappe.set_user("Administrator")

		desk.goto("unprocessed-email")
		count = page.locator(".list-count").first
		count.wait_for()
		desk.wait_list_count(len(waiting))
		desk.shot("list")

		# Filter by mailbox with the list's standard filter.
		mailbox_filter = page.locator('.standard-filter-section [data-fieldname="email_account"] input')
		mailbox_filter.fill(self.desk.name)
		page.keyboard.press("Escape")
		desk.wait_list_count(len(waiting_at_desk))
		desk.wait_idle()
		shown = set(
			page.locator(".list-row-container .list-row").evaluate_all(
				"rows => rows.map(r => r.querySelector('[data-name]')?.dataset.name)"
			)
		)
		self.assertIn(self.unprocessed_of(at_desk[0]).name, shown)
		self.assertNotIn(self.unprocessed_of(at_sales).name, shown)
		desk.shot("filtered")
		page.screenshot(path=str(self.docs_path("unprocessed-email-list.png")))

		# Create Case from the form (an agent may, through the queue).
		create, connect, spam = (self.unprocessed_of(c) for c in at_desk)
		page.locator(f'.list-row a[data-name="{create.name}"]').first.click()
		desk.wait_form("Unprocessed Email", create.name)
		desk.shot("form")
		desk.group_button("Actions", "Create Case")
		dialog = desk.dialog("Create Case")
		dialog.locator('[data-fieldname="case_type"] input').fill("Billing")
		dialog.locator(".btn-primary").click()
		desk.alert("created")
		self.see_server_writes()
		create.reload()
		self.assertEqual(create.status, "Processed")
		self.assertEqual(frappe.db.get_value("Case", create.case, "case_type"), "Billing")
		self.assertEqual(
			frappe.db.get_value("Communication", create.communication, "reference_name"), create.case
		)
		desk.wait_form("Unprocessed Email", create.name)
		desk.shot("case-created")

		# Connect to Case.
		desk.goto(f"unprocessed-email/{connect.name}")
		desk.wait_form("Unprocessed Email", connect.name)
		desk.group_button("Actions", "Connect to Case")
		dialog = desk.dialog("Connect to Case")
		dialog.locator('[data-fieldname="case"] input').fill(target_case)
		desk.wait_idle()
		dialog.locator(".modal-title").click()  # closes the link's suggestion list
		desk.shot("connect-prompt")
		dialog.locator(".btn-primary").click()
		self.assertEqual(desk.alert("connected"), f"Email connected to {target_case}.")
		self.see_server_writes()
		connect.reload()
		self.assertEqual((connect.status, connect.case), ("Processed", target_case))
		self.assertEqual(
			frappe.db.get_value("Communication", connect.communication, "reference_name"), target_case
		)
		desk.wait_form("Unprocessed Email", connect.name)
		desk.shot("connected")

		# Delete (spam): kept, hidden from the default list.
		desk.goto(f"unprocessed-email/{spam.name}")
		desk.wait_form("Unprocessed Email", spam.name)
		desk.group_button("Actions", "Delete (Spam)")
		desk.dialog("Confirm").locator(".btn-primary").click()
		self.assertEqual(desk.alert("deleted"), f"{spam.name} deleted.")
		self.see_server_writes()
		self.assertEqual(frappe.db.get_value("Unprocessed Email", spam.name, "status"), "Deleted")
		desk.wait_form("Unprocessed Email", spam.name)
		desk.shot("deleted")

		desk.goto(f"unprocessed-email?status=Unprocessed&email_account={quote(self.desk.name)}")
		desk.wait_list_count(len(waiting_at_desk) - 3)
		self.assertEqual(page.locator(f'.list-row a[data-name="{spam.name}"]').count(), 0)
		desk.shot("list-after")
		self.assertEqual(desk.errors, [])

	def test_cloned_case_links_to_its_original(self):
		sender = f"{unique('grace')}@customer.test"
		first = self.mail(self.support, sender, unique("Invoice wrong"))
		original = frappe.get_doc("Case", first.reference_name)
		original.status = "Closed"
		original.save(ignore_permissions=True)
		frappe.db.commit()
		reply = self.mail(
			self.support, sender, f"Re: {original.subject}", in_reply_to=f"<{first.message_id}>"
		)
		clone = reply.reference_name
		self.assertNotEqual(clone, original.name)
		self.assertEqual(frappe.db.get_value("Case", clone, "cloned_from"), original.name)

		desk = self.open_desk("cloned-case", AGENT)
		page = desk.page
		desk.goto(f"case/{clone}")
		desk.wait_form("Case", clone)
		link = page.locator(f'.form-message a[href="/app/case/{original.name}"] >> visible=true')
		link.wait_for()
		self.assertIn("Continues the closed case", page.locator(".form-message >> visible=true").inner_text())
		# The reply that made the clone is on its timeline.
		page.locator(f'.timeline-item[data-name="{reply.name}"]').first.wait_for()
		desk.shot("clone")
		page.screenshot(path=str(self.docs_path("case-form-cloned.png")), full_page=True)

		link.click()
		desk.wait_form("Case", original.name)
		page.locator(f'.form-message a[href="/app/case/{clone}"] >> visible=true').wait_for()
		self.assertIn("continues in", page.locator(".form-message >> visible=true").inner_text())
		desk.shot("original")
		self.assertEqual(desk.errors, [])
