"""The team lead's view (issue 17, F26) on a real site: reports through frappe.desk.query_report.run,
number cards through Frappe's own get_result / the card's method, charts through their methods,
each as a Case Manager and as an agent, on seeded cases whose figures are computed here by hand.

Seeded in March 2027 (no other test writes there) on the shipped Default policy, Monday-Friday
09:00-17:00. Monday 8 … Wednesday 10 March 2027. The agent may read queue Q1 only (a User
Permission on User Group, Frappe's own rule) and is a member of mailbox A only.
"""

from datetime import datetime, timedelta

import frappe
from frappe.desk.doctype.dashboard_chart.dashboard_chart import get as chart_get
from frappe.desk.doctype.number_card.number_card import get_result
from frappe.desk.query_report import run
from frappe.tests.utils import FrappeTestCase
from frappe.utils import now_datetime

from case_threads import dashboard, sla
from case_threads.tests.utils import make_mailbox, make_user

MANAGER = "lead.manager@ct.test"
AGENT = "lead.agent@ct.test"
Q1, Q2 = "CT Lead Q1", "CT Lead Q2"
HOUR = 3600


def at(day, hour, minute=0):
	return datetime(2027, 3, day, hour, minute)


# name: queue, last_worked_by, opened, first response, resolved, status, agreement, reopened, cloned
SEED = {
	"c1": (Q1, AGENT, at(8, 10), at(8, 11), at(8, 15), "Resolved", "Fulfilled", 0, False),
	"c2": (Q1, AGENT, at(8, 16), at(9, 10), at(10, 10), "Resolved", "Failed", 1, False),
	"c3": (Q1, AGENT, at(9, 9), at(9, 12), None, "Open", "Resolution Due", 0, True),
	"c4": (Q2, MANAGER, at(10, 9), at(10, 9, 30), at(10, 17), "Resolved", "Fulfilled", 0, False),
	"c5": (Q2, None, at(10, 10), None, None, "Open", "First Response Due", 0, False),
}
# Working time by hand: c1 1h / 5h; c2 1h Mon + 1h Tue = 2h / 1h + 8h + 1h = 10h; c3 3h; c4 0.5h / 8h.


def waiting_unprocessed(box, reason, received_on):
	"""An Unprocessed Email waiting in `box`; the figures count rows, the email behind one does not matter."""
	doc = frappe.get_doc(
		{
			"doctype": "Unprocessed Email",
			"status": "Unprocessed",
			"reason": reason,
			"subject": "waiting",
			"sender": "someone@customer.test",
			"email_account": box,
			"received_on": received_on,
		}
	)
	doc.flags.ignore_mandatory = True
	return doc.insert(ignore_permissions=True)


class TestTeamLead(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		sla.ensure_default_policy()
		make_user(MANAGER, ["Case Manager"])
		cls.box_a = make_mailbox("lead-a@ct.test").name
		cls.box_b = make_mailbox("lead-b@ct.test").name
		make_user(AGENT, ["Case Agent"], mailboxes=[cls.box_a])
		for group in (Q1, Q2):
			if not frappe.db.exists("User Group", group):
				frappe.get_doc(
					{"doctype": "User Group", "name": group, "user_group_members": [{"user": MANAGER}]}
				).insert(ignore_permissions=True)
		if not frappe.db.exists("User Permission", {"user": AGENT, "allow": "User Group"}):
			frappe.get_doc(
				{"doctype": "User Permission", "user": AGENT, "allow": "User Group", "for_value": Q1}
			).insert(ignore_permissions=True)
		frappe.db.sql("delete from `tabCase` where opened_on >= '2027-03-01' and opened_on < '2027-04-01'")
		cls.cases = {}
		for key, (
			queue,
			worker,
			opened,
			responded,
			resolved,
			status,
			agreement,
			reopened,
			cloned,
		) in SEED.items():
			case = frappe.get_doc(
				{"doctype": "Case", "subject": f"Lead {key}", "raised_by": f"{key}@customer.test"}
			)
			case.opened_on = opened
			case.insert(ignore_permissions=True)
			cls.cases[key] = case.name
			frappe.db.set_value(
				"Case",
				case.name,
				{
					"queue": queue,
					"last_worked_by": worker,
					"opened_on": opened,
					"last_customer_update": opened,
					"first_responded_on": responded,
					"resolved_on": resolved,
					"status": status,
					"agreement_status": agreement,
					"reopen_count": reopened,
					"cloned_to": cls.cases["c1"] if cloned else None,
				},
				update_modified=False,
			)
		# Seeded by SQL, past the controller: store the working-time durations as a save would.
		sla.backfill_durations(list(cls.cases.values()))
		frappe.db.commit()

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback()

	def report(self, name, user=MANAGER, **filters):
		frappe.set_user(user)
		result = run(name, filters)
		frappe.set_user("Administrator")
		return result

	def rows(self, user=MANAGER, **filters):
		filters = {"from_date": "2027-03-08", "to_date": "2027-03-14", **filters}
		result = self.report("Case Response Times", user, **filters)
		return {row["group"]: row for row in result["result"]}, result

	def figures(self, row):
		keys = (
			"cases",
			"median_first_response",
			"p90_first_response",
			"median_resolution",
			"sla_fulfilled_pct",
		)
		return tuple(row[k] for k in (*keys, "reopened", "cloned", "merged"))

	def test_response_times_by_queue_as_manager(self):
		rows, result = self.rows(group_by="Queue")
		# Q1 first responses 1h 2h 3h: median 2h, p90 (rank 3 of 3) 3h; resolutions 5h 10h: 7.5h; 1 of 2 fulfilled.
		self.assertEqual(self.figures(rows[Q1]), (3, 2 * HOUR, 3 * HOUR, 7.5 * HOUR, 50.0, 1, 1, 0))
		self.assertEqual(self.figures(rows[Q2]), (2, 0.5 * HOUR, 0.5 * HOUR, 8 * HOUR, 100.0, 0, 0, 0))
		# All: 0.5h 1h 2h 3h → median 1.5h, p90 rank 4 → 3h; resolutions 5h 8h 10h → 8h; 2 of 3.
		self.assertEqual(self.figures(rows["Total"]), (5, 1.5 * HOUR, 3 * HOUR, 8 * HOUR, 66.7, 1, 1, 0))
		self.assertEqual(result["chart"]["data"]["labels"], [Q1, Q2])
		self.assertEqual(result["chart"]["data"]["datasets"][0]["values"], [2.0, 0.5])

	def test_response_times_by_agent_and_period(self):
		rows, _ = self.rows(group_by="Agent")
		self.assertEqual(self.figures(rows[AGENT]), (3, 2 * HOUR, 3 * HOUR, 7.5 * HOUR, 50.0, 1, 1, 0))
		self.assertEqual(self.figures(rows[MANAGER]), (1, 0.5 * HOUR, 0.5 * HOUR, 8 * HOUR, 100.0, 0, 0, 0))
		self.assertEqual(rows["(none)"]["cases"], 1)
		rows, _ = self.rows(group_by="Period", period="Week")
		self.assertEqual(set(rows), {"2027-03-08", "Total"})
		self.assertEqual(self.figures(rows["2027-03-08"]), (5, 1.5 * HOUR, 3 * HOUR, 8 * HOUR, 66.7, 1, 1, 0))
		rows, _ = self.rows(group_by="Period", period="Day")
		self.assertEqual(
			{k: r["cases"] for k, r in rows.items()},
			{"2027-03-08": 2, "2027-03-09": 1, "2027-03-10": 2, "Total": 5},
		)

	def test_response_times_as_agent_count_only_their_queue(self):
		rows, _ = self.rows(AGENT, group_by="Queue")
		self.assertEqual(set(rows), {Q1, "Total"})
		self.assertEqual(self.figures(rows["Total"]), (3, 2 * HOUR, 3 * HOUR, 7.5 * HOUR, 50.0, 1, 1, 0))

	def test_custom_cards_and_charts(self):
		for user, today_median, fr_week, opened, resolved, fulfilled, failed in (
			(MANAGER, 0.5 * HOUR, 1.5, [2, 1, 2], [1, 0, 2], 2, 1),
			(AGENT, 0, 2.0, [2, 1, 0], [1, 0, 1], 1, 1),
		):
			frappe.set_user(user)
			now = at(10, 12)
			self.assertEqual(dashboard.median_first_response_today(now=now)["value"], today_median, user)
			# 9 March: c2 2h, c3 3h → 2.5h, for both (both Q1).
			self.assertEqual(dashboard.median_first_response_today(now=at(9, 15))["value"], 2.5 * HOUR)
			chart = dashboard.opened_vs_resolved(now=now)
			self.assertEqual(len(chart["labels"]), 30)
			self.assertEqual(chart["labels"][-3:], ["2027-03-08", "2027-03-09", "2027-03-10"])
			self.assertEqual(chart["datasets"][0]["values"][-3:], opened, user)
			self.assertEqual(chart["datasets"][1]["values"][-3:], resolved, user)
			self.assertEqual(sum(chart["datasets"][0]["values"]), sum(opened))
			chart = dashboard.sla_results_weekly(now=now)
			self.assertEqual(chart["labels"][-1], "2027-03-08")
			self.assertEqual(
				[chart["datasets"][0]["values"][-1], chart["datasets"][1]["values"][-1]], [fulfilled, failed]
			)
			chart = dashboard.first_response_weekly(now=now)
			self.assertEqual(chart["datasets"][0]["values"][-1], fr_week, user)
		frappe.set_user("Administrator")
		outsider = make_user("lead.outsider@ct.test", [])
		frappe.set_user(outsider)
		with self.assertRaises(frappe.PermissionError):
			dashboard.median_first_response_today()

	def test_count_cards_with_frappe_get_result(self):
		# Only the seeded cases count here: every other case is Closed in this (rolled back) transaction.
		frappe.db.sql(
			"update `tabCase` set status = 'Closed' where name not in %s", (tuple(self.cases.values()),)
		)
		today = now_datetime().replace(hour=23, minute=0, second=0, microsecond=0)
		c = self.cases
		frappe.db.set_value("Case", c["c3"], "sla_due", today, update_modified=False)
		frappe.db.set_value(
			"Case",
			c["c5"],
			{"agreement_status": "Failed", "sla_due": today - timedelta(days=1)},
			update_modified=False,
		)
		frappe.db.set_value("Case", c["c4"], "status", "Replied", update_modified=False)
		expected = {
			# card: (manager, agent of Q1)
			"Open Cases": (2, 1),  # c3 c5 / c3
			"Cases Waiting on Customer": (1, 0),  # c4
			"Overdue Cases": (1, 0),  # c5
			"Cases Due Today": (1, 1),  # c3
		}
		for card, (manager, agent) in expected.items():
			doc = frappe.get_doc("Number Card", card)
			for user, value in ((MANAGER, manager), (AGENT, agent)):
				frappe.set_user(user)
				self.assertEqual(get_result(doc.as_json(), doc.filters_json), value, f"{card} as {user}")
			frappe.set_user("Administrator")
		frappe.set_user(MANAGER)
		backlog = chart_get(chart_name="Case Backlog by Queue", refresh=1)
		self.assertEqual(
			dict(zip(backlog["labels"], backlog["datasets"][0]["values"], strict=True)), {Q1: 1, Q2: 2}
		)
		frappe.set_user(AGENT)
		backlog = chart_get(chart_name="Case Backlog by Queue", refresh=1)
		self.assertEqual(dict(zip(backlog["labels"], backlog["datasets"][0]["values"], strict=True)), {Q1: 1})

	def test_unprocessed_email_aging_and_chart_per_mailbox(self):
		frappe.db.sql(
			"update `tabUnprocessed Email` set status = 'Processed' where email_account in %s",
			((self.box_a, self.box_b),),
		)
		now = datetime(2027, 3, 10, 12)
		for box, reason, hours_ago in (
			(self.box_a, "No Route", 30),
			(self.box_a, "Bulk", 2),
			(self.box_a, "No Route", 1),
			(self.box_b, "Auto-Reply", 5),
		):
			waiting_unprocessed(box, reason, now - timedelta(hours=hours_ago))
		for user, boxes in ((MANAGER, {self.box_a, self.box_b}), (AGENT, {self.box_a})):
			result = self.report("Unprocessed Email Aging", user, now=str(now))
			rows = {row["email_account"]: row for row in result["result"]}
			self.assertTrue(boxes <= set(rows), user)
			if user == AGENT:
				self.assertEqual(set(rows), {self.box_a})
			a = rows[self.box_a]
			self.assertEqual(
				(a["waiting"], a["oldest"], a["oldest_age_hours"]), (3, now - timedelta(hours=30), 30.0)
			)
			self.assertEqual((a["no_route"], a["bulk"], a["auto_reply"]), (2, 1, 0))
			if self.box_b in boxes:
				self.assertEqual((rows[self.box_b]["waiting"], rows[self.box_b]["auto_reply"]), (1, 1))
			frappe.set_user(user)
			chart = chart_get(chart_name="Unprocessed Email by Mailbox", refresh=1)
			counts = dict(zip(chart["labels"], chart["datasets"][0]["values"], strict=True))
			frappe.set_user("Administrator")
			self.assertEqual(counts[self.box_a], 3)
			self.assertEqual(self.box_b in counts, self.box_b in boxes, user)
