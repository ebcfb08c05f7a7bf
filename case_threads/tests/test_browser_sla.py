"""Service levels in the Case list, in a real browser (issue 11, F12/F23): the SLA indicator, the
SLA age, the Overdue filter and the Relevance order of the Active view; the form's waiting timer.

Cases come through Frappe's receive path at explicit (frozen) instants; the browser runs on the
real clock. Screenshots as in test_browser.py.
"""

import email
import re
from datetime import timedelta

import frappe
from frappe.core.doctype.communication.email import make as make_communication
from frappe.tests.utils import FrappeTestCase
from frappe.utils import now_datetime

from case_threads import sla
from case_threads.tests.browser_utils import Desk, LiveDesk, desk_user, screenshot_dir
from case_threads.tests.test_inbound import SUPPORT, setup_routing
from case_threads.tests.utils import build_mail, case_of, make_mailbox, receive, unique

AGENT = "ct.sla.agent@browser-ct.test"
FAST = "fast-sla@ct.test"  # a route whose policy runs around the clock with a 30-minute response


class TestBrowserSLA(LiveDesk, FrappeTestCase):
	@classmethod
	def set_up_desk(cls):
		setup_routing()
		sla.ensure_default_policy()
		frappe.db.delete("__UserSettings", {"user": AGENT})
		frappe.cache.delete_value("_user_settings")
		cls.support = make_mailbox(SUPPORT, outgoing=1)
		desk_user(AGENT, ["Case Agent"])
		if not frappe.db.exists("Email Route", "CT SLA fast"):
			frappe.get_doc(
				{
					"doctype": "Email Route",
					"route_name": "CT SLA fast",
					"address_pattern": FAST,
					"sequence": 2,
				}
			).insert(ignore_permissions=True)
		if not frappe.db.exists("Case SLA Policy", "CT around the clock"):
			frappe.get_doc(
				{
					"doctype": "Case SLA Policy",
					"policy_name": "CT around the clock",
					"email_route": "CT SLA fast",
					"priorities": [{"response_time": 30 * 60, "resolution_time": 8 * 3600}],
					"working_hours": [
						{"weekday": d, "start_time": "00:00:00", "end_time": "00:00:00"}
						for d in (
							"Monday",
							"Tuesday",
							"Wednesday",
							"Thursday",
							"Friday",
							"Saturday",
							"Sunday",
						)
					],
				}
			).insert(ignore_permissions=True)

	def mail_at(self, when, subject, to):
		with self.freeze_time(when):
			raw = build_mail(subject, f"{unique('c')}@customer.test", to=to)
			receive(self.support, raw)
		frappe.db.commit()
		return frappe.get_doc("Case", case_of(email.message_from_bytes(raw)["Message-ID"]))

	def test_list_shows_indicator_sla_age_overdue_filter_and_relevance_order(self):
		marker = unique("SLA-list")
		now = now_datetime()
		overdue = self.mail_at(now - timedelta(hours=2), f"{marker} overdue", FAST)
		soon = self.mail_at(now - timedelta(minutes=5), f"{marker} due soon", FAST)
		later = self.mail_at(now - timedelta(minutes=1), f"{marker} default policy", SUPPORT)
		paused = self.mail_at(now - timedelta(minutes=10), f"{marker} waiting on customer", FAST)
		# The agent answers from the case (Frappe's composer endpoint): the case waits on the customer.
		make_communication(
			doctype="Case",
			name=paused.name,
			content="We need your order number.",
			subject=f"Re: {paused.subject}",
			recipients=paused.raised_by,
			send_email=True,
		)
		sla.mark_breaches()
		frappe.db.commit()
		self.assertEqual(frappe.db.get_value("Case", overdue.name, "agreement_status"), "Failed")

		desk = Desk(self.browser, self.url, "case-sla-list")
		self.addCleanup(desk.close)
		desk.context.set_default_timeout(60_000)  # a shared, busy machine: logins can be slow
		page = desk.page
		# Wide enough for the list's six columns (at 1280 px Frappe shows four: no Last Customer Update).
		page.set_viewport_size({"width": 1600, "height": 900})
		desk.login(AGENT)
		desk.goto("case")
		page.locator(".page-actions button, .page-head button", has_text="Active").first.click()
		desk.wait_idle()
		page.evaluate("m => cur_list.filter_area.add([['Case', 'subject', 'like', `%${m}%`]])", marker)
		self.wait_for(
			desk, "() => cur_list.data.length === 4 && cur_list.sort_selector.sort_by === 'relevance_key'"
		)
		desk.wait_idle()
		self.wait_for(desk, "() => [...document.querySelectorAll('.ct-sla-age')].some(e => e.textContent)")

		rows = page.locator(".list-row-container .list-row")
		titles = rows.evaluate_all(
			"rs => rs.map(r => r.querySelector('.list-subject a[data-name]').getAttribute('data-name'))"
		)
		# Relevance: overdue first, then the soonest due, then later due, then waiting on the customer.
		self.assertEqual(titles, [overdue.name, soon.name, later.name, paused.name])
		indicators = rows.evaluate_all(
			"rs => rs.map(r => r.querySelector('.indicator-pill').textContent.trim())"
		)
		self.assertEqual(indicators, ["Overdue", "Due Soon", "First Response Due", "Paused"])
		ages = rows.evaluate_all("rs => rs.map(r => r.querySelector('.ct-sla-age').textContent)")
		# Around the clock policy: working time = wall time since the mail (plus however slow this run is).
		self.assertRegex(ages[0], r"^· SLA age 2h \d+m$")
		self.assertRegex(ages[1], r"^· SLA age \d+m$")
		self.assertEqual(ages[3], "")  # we wait on the customer: no SLA age
		desk.shot("relevance")
		page.screenshot(path=str(self.docs_path("case-list-sla.png")))

		# The Overdue filter keeps only what is past its due time.
		page.locator(".page-actions button, .page-head button", has_text="Overdue").first.click()
		desk.wait_idle()
		page.evaluate("m => cur_list.filter_area.add([['Case', 'subject', 'like', `%${m}%`]])", marker)
		self.wait_for(desk, "() => cur_list.data.length === 1")
		names = rows.evaluate_all(
			"rs => rs.map(r => r.querySelector('.list-subject a[data-name]').getAttribute('data-name'))"
		)
		self.assertEqual(names, [overdue.name])
		desk.shot("overdue")

		# The form's live timer since the customer's last email.
		desk.goto(f"case/{soon.name}")
		desk.wait_form("Case", soon.name)
		timer = page.locator(".ct-waiting-timer .ct-waiting-elapsed")
		try:
			timer.wait_for(state="visible")
		except Exception as e:
			desk.shot("no-timer")
			raise AssertionError(f"no waiting timer; page errors {desk.errors}") from e
		first = timer.inner_text()
		self.assertRegex(first, r"^00:\d\d:\d\d$")
		page.wait_for_function(
			"t => document.querySelector('.ct-waiting-timer .ct-waiting-elapsed').textContent !== t",
			arg=first,
		)
		page.evaluate("() => window.scrollTo(0, 0)")
		desk.shot("waiting-timer", path=self.docs_path("case-waiting-timer.png"), full_page=False)
		self.assertEqual(desk.errors, [])

	def wait_for(self, desk, condition):
		"""Wait for a condition on the list; on timeout say what the list held."""
		try:
			desk.page.wait_for_function(condition)
		except Exception as e:
			desk.shot("timeout")
			state = desk.page.evaluate(
				"() => ({rows: cur_list.data.map(d => d.name), sort: cur_list.sort_selector.sort_by,"
				" filters: cur_list.filter_area.get(), ages: [...document.querySelectorAll('.ct-sla-age')].map(e => e.outerHTML)})"
			)
			raise AssertionError(f"{condition}: list shows {state}, page errors {desk.errors}") from e
		desk.wait_idle()

	def docs_path(self, name):
		path = screenshot_dir() / "readme"
		path.mkdir(exist_ok=True)
		return path / name
