"""The team lead's view in a real browser (issue 17, F26): the Case Threads workspace with its number
cards and charts, and the Unprocessed Email Aging / Case Response Times reports, as a Case Manager and
as an agent of one mailbox (the agent's Unprocessed figures are their own mailbox's only).

Screenshots as in test_browser.py; the manager's workspace is also saved under
test-output/screenshots/readme/ for the README (copied to docs/screenshots/).
"""

from datetime import timedelta

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import now_datetime

from case_threads.tests.browser_utils import Desk, LiveDesk, desk_user, screenshot_dir
from case_threads.tests.test_team_lead import waiting_unprocessed
from case_threads.tests.utils import make_mailbox

MANAGER = "ct.lead.manager@browser-ct.test"
AGENT = "ct.lead.agent@browser-ct.test"
CARDS = [
	"Open Cases",
	"Cases Waiting on Customer",
	"Overdue Cases",
	"Cases Due Today",
	"Median First Response Today",
]


class TestBrowserTeamLead(LiveDesk, FrappeTestCase):
	@classmethod
	def set_up_desk(cls):
		cls.box_a = make_mailbox("lead-browser-a@ct.test").name
		cls.box_b = make_mailbox("lead-browser-b@ct.test").name
		desk_user(MANAGER, ["Case Manager"])
		desk_user(AGENT, ["Case Agent"], mailboxes=[cls.box_a])
		frappe.db.sql(
			"delete from `tabUnprocessed Email` where email_account in %s", ((cls.box_a, cls.box_b),)
		)
		now = now_datetime()
		for box, reason, hours in (
			(cls.box_a, "No Route", 5),
			(cls.box_a, "Bulk", 1),
			*tuple((cls.box_b, "No Route", h) for h in (2, 3, 4)),
		):
			waiting_unprocessed(box, reason, now - timedelta(hours=hours))

	def open_desk(self, user, scenario):
		desk = Desk(self.browser, self.url, scenario)
		self.addCleanup(desk.close)
		desk.context.set_default_timeout(90_000)  # a shared, busy machine
		desk.page.set_viewport_size({"width": 1440, "height": 1000})
		desk.login(user)
		return desk

	def workspace(self, desk):
		desk.goto("case-threads")
		page = desk.page
		for card in CARDS:
			page.locator(".number-widget-box", has_text=card).first.wait_for(state="visible")
		# Every card shows its figure (not "Loading…"), every chart has drawn.
		page.wait_for_function(
			"""n => { const c = [...document.querySelectorAll('.number-widget-box .number')];
				return c.length >= n && c.every(e => e.textContent.trim() !== ''); }""",
			arg=len(CARDS),
		)
		page.wait_for_function(
			"() => document.querySelectorAll('.widget.dashboard-widget-box .chart-container svg').length >= 5"
		)
		desk.wait_idle()

	def aging(self, desk):
		desk.goto("query-report/Unprocessed Email Aging")
		desk.page.wait_for_function(
			"() => window.frappe.query_report && frappe.query_report.report_name === 'Unprocessed Email Aging'"
			" && frappe.query_report.data && frappe.query_report.datatable"
		)
		desk.wait_idle()
		rows = desk.page.evaluate("() => frappe.query_report.data.map(r => [r.email_account, r.waiting])")
		return dict(rows)

	def test_manager_sees_every_mailbox(self):
		desk = self.open_desk(MANAGER, "lead-manager")
		self.workspace(desk)
		desk.shot("workspace")
		desk.page.screenshot(path=str(self.docs_path("team-lead-dashboard.png")), full_page=True)
		rows = self.aging(desk)
		self.assertEqual((rows.get(self.box_a), rows.get(self.box_b)), (2, 3))
		desk.shot("unprocessed-aging")
		desk.goto("query-report/Case Response Times")
		desk.page.wait_for_function(
			"() => frappe.query_report && frappe.query_report.report_name === 'Case Response Times'"
			" && frappe.query_report.datatable"
		)
		desk.wait_idle()
		desk.shot("response-times")
		self.assertEqual(desk.errors, [])

	def test_agent_sees_their_mailbox_only(self):
		desk = self.open_desk(AGENT, "lead-agent")
		self.workspace(desk)
		desk.shot("workspace")
		rows = self.aging(desk)
		self.assertEqual(rows.get(self.box_a), 2)
		self.assertNotIn(self.box_b, rows)
		desk.shot("unprocessed-aging")
		self.assertEqual(desk.errors, [])

	def docs_path(self, name):
		path = screenshot_dir() / "readme"
		path.mkdir(exist_ok=True)
		return path / name
