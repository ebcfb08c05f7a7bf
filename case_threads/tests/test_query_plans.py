"""The desk's own queries use an index on the big tables (issue 19): no full table scan of Case,
Communication or Unprocessed Email.

Each query is run the way the desk runs it (frappe.desk.reportview.get / get_count with the filters
case_list.js sends, the Link search, the whitelisted methods of the Connect dialog and the Case
form, the Number Cards, Dashboard Charts and reports of the team lead's view); every SELECT it sends
is captured and EXPLAINed. A few hundred seeded rows (bulk SQL) and ANALYZE TABLE give the optimizer
the statistics it needs to prefer an index, as it does on a large site. benchmarks/year.py times
the same calls (desk_calls) at 10k and 250k cases.

A scan counts when no index could serve the query (EXPLAIN's possible_keys is empty). Where one
could, whether the optimizer uses it depends on the site's data: on a test site that earlier runs
filled with Open cases, `status = 'Open'` matches most rows and a scan is the cheaper plan, while on
a real site it matches a few percent (benchmarks/year.py records the plans at 10k and 250k).
"""

import json
import re
from datetime import timedelta

import frappe
from frappe.desk.search import search_link
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_days, getdate, now_datetime

from case_threads import api, sla
from case_threads.tests.utils import make_mailbox, make_user

BIG_TABLES = ("tabCase", "tabCommunication", "tabUnprocessed Email")
PREFIX = "QP-"
AGENT = "qp.agent@ct.test"
CASES = 2000

LIST_FIELDS = [
	"name", "owner", "creation", "modified", "modified_by", "_user_tags", "_comments", "_assign",
	"_liked_by", "docstatus", "idx", "subject", "status", "priority", "last_customer_update", "sla_due",
	"flagged", "agreement_status", "response_by", "resolution_by",
]  # fmt: skip
ACTIVE = ["Case", "status", "in", ["Open", "Replied"]]
NUMBER_CARDS = ("Open Cases", "Cases Waiting on Customer", "Overdue Cases", "Cases Due Today")


def desk_call(method, **form):
	"""A whitelisted method the way a desk request calls it: arguments in form_dict."""
	frappe.local.form_dict = frappe._dict(
		{key: json.dumps(v) if isinstance(v, list | dict) else v for key, v in form.items()}
	)
	return frappe.get_attr(method)()


def list_get(doctype, filters, order_by, fields=LIST_FIELDS):
	return desk_call(
		"frappe.desk.reportview.get",
		doctype=doctype,
		fields=[f"`tab{doctype}`.`{f}`" for f in fields],
		filters=filters,
		order_by=order_by,
		start=0,
		page_length=20,
		view="List",
		group_by="",
		with_comment_count=1,
	)


def list_count(doctype, filters):
	return desk_call(
		"frappe.desk.reportview.get_count", doctype=doctype, filters=filters, fields=[], distinct="false"
	)


def desk_calls(agent, mailboxes, pick, heavy):
	"""name → callable, each what one desk request runs, as `agent` would (set the user first).

	pick() gives a case (dict with name, subject, raised_by) to look for; heavy is (email, contact) of
	the customer with the longest history."""
	from frappe.desk.doctype.dashboard_chart import dashboard_chart
	from frappe.desk.doctype.number_card.number_card import get_result
	from frappe.desk.query_report import run as run_report
	from frappe.desk.search import search_link

	from case_threads import api, dashboard

	now = now_datetime()
	today = getdate(now)
	cards = {name: frappe.get_doc("Number Card", name).as_dict() for name in NUMBER_CARDS}
	modified = "`tabCase`.`modified` desc"

	def number(case):
		return case["subject"].split()[-1]  # the order number in a seeded subject: a rare word

	calls = {
		"Case list: Active (default filter, modified desc)": lambda: list_get("Case", [ACTIVE], modified),
		"Case list: Active count": lambda: list_count("Case", [ACTIVE]),
		"Case list: My Cases": lambda: list_get(
			"Case", [["Case", "_assign", "like", f"%{agent}%"], ACTIVE], modified
		),
		"Case list: Relevance order (Active)": lambda: list_get(
			"Case", [ACTIVE], "`tabCase`.`relevance_key` asc"
		),
		"Case list: Overdue": lambda: list_get(
			"Case", [ACTIVE, ["Case", "sla_due", "is", "set"], ["Case", "sla_due", "<", str(now)]], modified
		),
		"Case list: title search (subject like)": lambda: list_get(
			"Case", [["Case", "subject", "like", f"%{number(pick())}%"]], modified
		),
		"Link search: Case by number/title": lambda: search_link("Case", number(pick())),
		# A word in every seeded title: the FULLTEXT lookup finds all cases, then keeps the newest.
		"Link search: a word of every title": lambda: search_link("Case", "order"),
		"Contact case history (Case form)": lambda: api.case_history(contact=heavy[1], email=heavy[0]),
		"Connect dialog: sender's cases": lambda: api.case_history(email=pick()["raised_by"]),
		"Connect dialog: typed search": lambda: api.case_history(txt=number(pick())),
		"Connect dialog: a word of every title": lambda: api.case_history(txt="order"),
		"Case form: unlinked emails": lambda: api.unlinked_emails(pick()["name"]),
		"Unprocessed list (default filter)": lambda: list_get(
			"Unprocessed Email",
			[["Unprocessed Email", "status", "=", "Unprocessed"]],
			"`tabUnprocessed Email`.`modified` desc",
			fields=["name", "owner", "creation", "modified", "status", "reason", "subject", "_assign"],
		),
		"Unprocessed count per mailbox": lambda: [
			list_count(
				"Unprocessed Email",
				[
					["Unprocessed Email", "status", "=", "Unprocessed"],
					["Unprocessed Email", "email_account", "=", box],
				],
			)
			for box in mailboxes
		],
	}
	for name, card in cards.items():
		calls[f"Number Card: {name}"] = lambda card=card: get_result(card, json.loads(card.filters_json))
	calls["Number Card: Median First Response Today"] = dashboard.median_first_response_today
	for chart in ("Case Backlog by Queue", "Unprocessed Email by Mailbox"):
		calls[f"Dashboard Chart: {chart}"] = lambda chart=chart: dashboard_chart.get(
			chart_name=chart, refresh=1
		)
	calls["Dashboard Chart: Cases Opened vs Resolved"] = lambda: dashboard.opened_vs_resolved(
		chart_name="Cases Opened vs Resolved"
	)
	calls["Dashboard Chart: Case SLA Fulfilled vs Failed"] = lambda: dashboard.sla_results_weekly(
		chart_name="Case SLA Fulfilled vs Failed"
	)
	calls["Dashboard Chart: Case First Response Time"] = lambda: dashboard.first_response_weekly(
		chart_name="Case First Response Time"
	)
	report_filters = {"from_date": str(add_days(today, -30)), "to_date": str(today), "group_by": "Agent"}
	calls["Report: Case Response Times (30 days, by agent)"] = lambda: run_report(
		"Case Response Times", filters=report_filters, ignore_prepared_report=True
	)
	calls["Report: Unprocessed Email Aging"] = lambda: run_report(
		"Unprocessed Email Aging", filters={}, ignore_prepared_report=True
	)
	return calls


def captured_selects(call, tables=BIG_TABLES):
	"""The SELECTs on `tables` that `call` sends to the database."""
	queries = []
	sql = frappe.db.sql

	def recording(*args, **kwargs):
		result = sql(*args, **kwargs)
		query = frappe.db.last_query
		query = query.decode() if isinstance(query, bytes) else query
		if query.lstrip().lower().startswith("select") and any(t in query for t in tables):
			queries.append(query)
		return result

	frappe.db.sql = recording
	try:
		call()
	finally:
		frappe.db.sql = sql
	return queries


def scans(query, tables=BIG_TABLES):
	"""EXPLAIN rows that read a whole table of `tables` for want of an index."""
	plan = frappe.db.sql(f"explain {query}", as_dict=True)
	return [row for row in plan if row.type == "ALL" and row.table in tables and not row.possible_keys]


def plans_of(call):
	"""[(query, explain rows)] of every SELECT on a big table that `call` sends."""
	return [(q, frappe.db.sql(f"explain {q}", as_dict=True)) for q in captured_selects(call)]


# --- the seed: a few hundred rows, all kinds -------------------------------------------------------


def _rows(table, rows):
	columns = list(rows[0])
	escape = frappe.db._conn.escape
	values = ",".join("(" + ",".join(escape(row[c]) for c in columns) + ")" for row in rows)
	frappe.db.sql(f"insert into `tab{table}` ({', '.join(f'`{c}`' for c in columns)}) values {values}")


def seed(mailboxes):
	"""CASES cases over a year, newest first, mixed like a real site: most cases long closed, a
	backlog of recent ones, a few senders who write often; three emails each; an Unprocessed Email
	for one in four (waiting if recent, else processed or deleted)."""
	from case_threads.core.sla import relevance_key

	for table in ("Communication", "Unprocessed Email", "Case", "Contact Email"):
		frappe.db.sql(f"delete from `tab{table}` where name like '{PREFIX}%%'")
	now = now_datetime().replace(microsecond=0)
	# The customers' Contact Email rows, which Frappe reads for every address of an inbound mail.
	_rows(
		"Contact Email",
		[
			{"name": f"{PREFIX}ce-{k}", "email_id": f"qp{k}@cust.test", "parent": f"{PREFIX}contact-qp{k}@cust.test",
			 "parenttype": "Contact", "parentfield": "email_ids", "creation": now, "modified": now}
			for k in range(400)
		],
	)  # fmt: skip
	hours = 365 * 24 / CASES
	cases, emails, unprocessed = [], [], []
	for i in range(CASES):
		created = now - timedelta(hours=i * hours + 1)
		age = (now - created).days
		status = ("Open", "Replied", "Resolved")[i % 3] if age < 5 else "Closed" if i % 50 else "Open"
		done = status in ("Resolved", "Closed")
		due = None if done or status == "Replied" else created + timedelta(days=4)
		name = f"{PREFIX}{i:05d}"
		box = mailboxes[i % len(mailboxes)]
		sender = f"qp{int(97 * (i * 0.618 % 1) ** 2)}@cust.test"
		cases.append(
			{
				"name": name, "creation": created, "modified": created, "owner": "Administrator",
				"subject": f"Query plan issue order {700000 + i}", "status": status, "priority": "Medium",
				"raised_by": sender, "contact": f"{PREFIX}contact-{sender}", "queue": None,
				"opened_on": created, "last_customer_update": created,
				"first_responded_on": created + timedelta(hours=2) if i % 3 else None,
				"resolved_on": created + timedelta(days=1) if done else None,
				"closed_on": created + timedelta(days=8) if status == "Closed" else None,
				"sla_due": due, "thread_token": f"qp{i:05d}token", "service_level_agreement": "Default",
				"agreement_status": ("Fulfilled" if i % 5 else "Failed") if done else "Resolution Due",
				"response_by": created + timedelta(hours=20), "resolution_by": created + timedelta(days=4),
				"relevance_key": relevance_key(status, due, created), "email_account": box,
				"last_worked_by": AGENT, "_assign": "[]" if done else json.dumps([AGENT]),
			}
		)  # fmt: skip
		for k in range(3):
			emails.append(
				{
					"name": f"{PREFIX}{i:05d}-{k}", "creation": created, "modified": created,
					"owner": "Administrator", "subject": cases[-1]["subject"], "sender": sender,
					"communication_medium": "Email", "communication_type": "Communication",
					"sent_or_received": "Received", "communication_date": created + timedelta(minutes=k),
					"reference_doctype": "Case", "reference_name": name, "email_account": box,
					"message_id": f"qp{i}.{k}@cust.test", "status": "Linked",
				}
			)  # fmt: skip
		if i % 4 == 0:
			comm = f"{PREFIX}U{i:05d}"
			waiting = age < 5 or i % 40 == 0
			emails.append(
				{
					"name": comm, "creation": created, "modified": created, "owner": "Administrator",
					"subject": "Auto", "sender": sender, "communication_medium": "Email",
					"communication_type": "Communication", "sent_or_received": "Received",
					"communication_date": created, "reference_doctype": None, "reference_name": None,
					"email_account": box, "message_id": f"qpu{i}@bulk.test", "status": "Open",
				}
			)  # fmt: skip
			unprocessed.append(
				{
					"name": f"{PREFIX}UNP{i:05d}", "creation": created, "modified": created,
					"owner": "Administrator", "status": "Unprocessed" if waiting else "Processed",
					"reason": "No Route", "subject": "Auto", "sender": sender, "email_account": box,
					"received_on": created, "communication": comm,
				}
			)  # fmt: skip
	for table, rows in (("Case", cases), ("Communication", emails), ("Unprocessed Email", unprocessed)):
		for start in range(0, len(rows), 1000):
			_rows(table, rows[start : start + 1000])
	frappe.db.commit()
	# Statistics as a large site has them: without them MariaDB guesses from a near-empty table.
	frappe.db.sql("analyze table `tabCase`, `tabCommunication`, `tabUnprocessed Email`, `tabContact Email`")
	return cases


class TestQueryPlans(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		sla.ensure_default_policy()
		cls.mailboxes = [make_mailbox(f"qp-{k}@ct.test").name for k in range(2)]
		make_user(AGENT, ["Case Agent"], cls.mailboxes[:1])
		cls.cases = seed(cls.mailboxes)

	@classmethod
	def tearDownClass(cls):
		frappe.set_user("Administrator")
		for table in ("Communication", "Unprocessed Email", "Case", "Contact Email"):
			frappe.db.sql(f"delete from `tab{table}` where name like '{PREFIX}%%'")
		frappe.db.commit()
		super().tearDownClass()

	def tearDown(self):
		frappe.set_user("Administrator")

	def calls(self):
		picks = iter(range(10**6))
		cases = self.cases[5::37]
		heavy = ("qp0@cust.test", f"{PREFIX}contact-qp0@cust.test")
		return desk_calls(AGENT, self.mailboxes, lambda: cases[next(picks) % len(cases)], heavy)

	def test_no_full_scan_of_a_big_table(self):
		frappe.set_user(AGENT)
		found = {}
		seen = 0
		for name, call in self.calls().items():
			for query in captured_selects(call):
				seen += 1
				if rows := scans(query):
					found.setdefault(name, []).append((re.sub(r"\s+", " ", query)[:400], rows))
		self.assertGreater(seen, 20, "the desk calls sent no SELECT on Case / Communication / Unprocessed")
		self.assertEqual(found, {}, "full table scans: " + json.dumps(found, indent=1, default=str))

	def test_contact_lookup_of_inbound_mail_uses_an_index(self):
		# Frappe looks up the Contact of every address of every inbound mail (Contact Email.email_id,
		# indexed by Case.on_doctype_update): without the index, receive slows as contacts grow.
		from frappe.contacts.doctype.contact.contact import get_contact_name

		queries = captured_selects(lambda: get_contact_name("qp7@cust.test"), ("tabContact Email",))
		self.assertTrue(queries)
		for query in queries:
			self.assertEqual(scans(query, ("tabContact Email",)), [], query)

	def test_title_searches_use_the_fulltext_index(self):
		# A word of a title is looked up in Case's FULLTEXT index (case_threads.search), not by a
		# LIKE '%word%' that reads every case; and the case is found.
		frappe.set_user(AGENT)
		case = self.cases[6]  # in the agent's mailbox
		word = case["subject"].split()[-1]
		for call, names in (
			(lambda: search_link("Case", word), lambda found: [r["value"] for r in found]),
			(lambda: api.case_history(txt=word), lambda found: [r.name for r in found]),
		):
			plans = plans_of(call)
			self.assertTrue(
				any(row.type == "fulltext" and row.table == "tabCase" for _q, rows in plans for row in rows),
				json.dumps(plans, indent=1, default=str),
			)
			self.assertEqual(names(call()), [case["name"]])

	def test_every_call_sees_the_seed(self):
		# The plans above are of queries that find rows, not of empty answers.
		frappe.set_user(AGENT)
		calls = self.calls()
		self.assertTrue(calls["Case list: Active count"]())
		self.assertTrue(calls["Case list: My Cases"]()["values"])
		self.assertTrue(calls["Connect dialog: typed search"]())
		self.assertTrue(calls["Contact case history (Case form)"]())
		self.assertTrue(calls["Case list: Relevance order (Active)"]()["values"])
