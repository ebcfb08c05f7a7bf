#!/usr/bin/env python3
"""A year of data (issue 19, with the dashboard of issue 17): the desk at 10k and at 250k cases.

    PYTHONPATH=/work/wt-b ~/frappe-bench/env/bin/python benchmarks/year.py --site ct-year.test
    ~/frappe-bench/env/bin/python benchmarks/run.py --part year   (the same; --sizes 10000,250000)

Seeds by bulk SQL (multi-row INSERTs, one transaction per batch) a support team's year: Cases from
customers with Contacts (a few write often, most once), four mailboxes, three queues and eight
agents, statuses by age, service-level states (with the working-time durations the Case controller
stores: first_response_time, resolution_time, by case_threads.sla.durations), clone chains, merged
cases, assignments (_assign and ToDo), Unprocessed Emails, and about four Communications per case. The plan is deterministic and
the newest cases are seeded first, so "10k" is the same team two weeks in and "250k" the same team
a year in (the active backlog stays about the same, the history grows). Re-running continues the
seed where it stopped; --reseed deletes the seeded rows first.

At each size it times, as an agent of one mailbox, what the desk really runs: matching a reply
(case_threads.mail.inbound.decide_for), a few mails through Email Account.receive (run.py's
receive worker), the Case list's requests (frappe.desk.reportview.get / get_count with the
filters case_list.js sends), the Link search, the Connect dialog's and the contact's case history
(case_threads.api.case_history), the Unprocessed queue counts, the Number Cards, Dashboard Charts
and the two reports, each median and p95. Prints a table and writes benchmarks/out/year.json.
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFIX = "YR-"  # every seeded row's name starts with it (cases, emails, contacts, ToDos, ...)
SEED = 19
MAILBOXES = [("Support", 0.5), ("Sales", 0.25), ("Billing", 0.15), ("Returns", 0.10)]
QUEUES = ["YR Tier 1", "YR Tier 2", "YR Billing"]
AGENTS = [f"yr-agent{k}@yr.test" for k in range(8)]
TOPICS = ["Printer", "Invoice", "Login", "Delivery", "Refund", "Password", "Upgrade", "Crash",
	"Warranty", "Shipping", "Licence", "Export"]  # fmt: skip
PROBLEMS = ["broken", "missing", "late", "wrong", "not working", "question", "urgent", "again"]
REASONS = ["No Route", "Auto-Reply", "Bounce", "Bulk", "Spam", "Only Bcc"]
BATCH = 5000  # cases per transaction
ROWS_PER_INSERT = 1000


def progress(label, done, total):
	width = 30
	filled = int(width * done / max(total, 1))
	print(f"\r{label:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
	if done >= total:
		print(file=sys.stderr)


# --- the plan: one deterministic year ---------------------------------------------------------


def case_times(total, anchor):
	"""Creation times of `total` cases over the year before `anchor`, oldest first; weekdays busy."""
	rng = random.Random(SEED)
	weights = [0.35 if (anchor - timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(365)]
	per_weight = total / sum(weights)
	times = []
	for d, weight in enumerate(weights):
		day = (anchor - timedelta(days=d)).replace(hour=0, minute=0, second=0, microsecond=0)
		for _ in range(round(per_weight * weight)):
			offset = min(max(rng.gauss(13, 3.5), 0), 23.99) * 3600
			when = day + timedelta(seconds=offset)
			times.append(min(when, anchor - timedelta(minutes=1)))
	times.sort()
	while len(times) < total:
		times.append(anchor - timedelta(minutes=1))
	return times[-total:]


def links(total):
	"""Clone chains (a Closed case's customer wrote again: the new case is its clone) and merges."""
	rng = random.Random(SEED + 1)
	clone_of, merged_into = {}, {}
	for i in range(2000, total):
		roll = rng.random()
		if roll < 0.03:
			parent = i - rng.randint(100, 2000)
			if parent not in clone_of.values() and parent not in merged_into:
				clone_of[i] = parent
		elif roll < 0.04 and i + 60 < total:
			merged_into[i] = i + rng.randint(1, 50)
	cloned_to = {parent: child for child, parent in clone_of.items()}
	return clone_of, cloned_to, merged_into


def lognormal_hours(rng, median):
	return median * math.exp(rng.gauss(0, 1))


def case_status(rng, age_days, is_parent, is_merged):
	if is_parent or is_merged:
		return "Closed"
	roll = rng.random()
	table = (
		(1, (0.6, 0.9, 1.0)),
		(3, (0.2, 0.6, 0.9)),
		(7, (0.05, 0.2, 0.6)),
		(10_000, (0.002, 0.004, 0.01)),
	)
	open_, replied, resolved = next(shares for limit, shares in table if age_days < limit)
	return (
		"Open"
		if roll < open_
		else "Replied"
		if roll < replied
		else "Resolved"
		if roll < resolved
		else "Closed"
	)


class Plan:
	def __init__(self, total, anchor, senders):
		self.total, self.anchor, self.senders = total, anchor, senders
		self.times = case_times(total, anchor)
		self.clone_of, self.cloned_to, self.merged_into = links(total)
		self.mailboxes = [f"YR {name}" for name, _ in MAILBOXES]
		self.box_weights = [w for _, w in MAILBOXES]

	def sender_of(self, i):
		# A few customers write very often, most once or twice: the history of a heavy one is long.
		s = int(self.senders * random.Random(i * 7 + 3).random() ** 2.5)
		return s, f"cust{s}@client{s % 500}.test", f"{PREFIX}C{s:06d}"

	def case(self, i):
		from case_threads.core.sla import relevance_key

		rng = random.Random(i * 1_000_003 + SEED)
		created = self.times[i]
		anchor = self.anchor
		age = (anchor - created).total_seconds() / 86400
		parent_of = self.clone_of.get(i)
		child = self.cloned_to.get(i)
		merged = self.merged_into.get(i)
		status = case_status(rng, age, child is not None, merged is not None)
		s, sender, contact = self.sender_of(i)
		mailbox = rng.choices(self.mailboxes, self.box_weights)[0]
		agent = AGENTS[rng.randrange(len(AGENTS))]
		topic = TOPICS[rng.randrange(len(TOPICS))]
		subject = f"{topic} {PROBLEMS[rng.randrange(len(PROBLEMS))]} order {100000 + i}"
		done = status in ("Resolved", "Closed")
		responded = created + timedelta(hours=lognormal_hours(rng, 3))
		if (status == "Open" and rng.random() < 0.5) or responded >= anchor:
			responded = None
		resolved = closed = None
		if done:
			resolved = min(created + timedelta(hours=lognormal_hours(rng, 30)), anchor - timedelta(minutes=5))
			responded = min(responded or resolved, resolved)
			if status == "Closed":
				closed = min(resolved + timedelta(days=7), anchor - timedelta(minutes=1))
				if child is not None:
					closed = min(closed, self.times[child] - timedelta(minutes=1))
				resolved = min(resolved, closed)
				responded = min(responded, resolved)
		last_customer = created
		if status == "Open" and responded:
			last_customer = min(
				responded + timedelta(hours=lognormal_hours(rng, 5)), anchor - timedelta(minutes=2)
			)
		# Service level (the shipped Default policy): 8 working hours to answer, 3 days to resolve.
		response_by = created + timedelta(hours=20)
		resolution_by = created + timedelta(days=4)
		on_hold = None
		if done:
			agreement = "Failed" if (resolved > resolution_by or rng.random() < 0.05) else "Fulfilled"
			sla_due = None
		elif status == "Replied":
			agreement, sla_due, on_hold = "Paused", None, responded or created
		elif responded is None:
			agreement, sla_due = "First Response Due", response_by
		else:
			agreement, sla_due = "Resolution Due", resolution_by
		if sla_due is not None and sla_due < anchor:
			agreement = "Failed"
		modified = max(t for t in (created, responded, resolved, closed, last_customer) if t)
		return {
			"name": f"{PREFIX}{i:06d}",
			"creation": created,
			"modified": modified,
			"modified_by": agent,
			"owner": "Administrator",
			"docstatus": 0,
			"idx": 0,
			"subject": subject,
			"status": status,
			"priority": rng.choices(["Low", "Medium", "High", "Urgent"], [2, 6, 2, 0.5])[0],
			"flagged": int(rng.random() < 0.02),
			"channel": "Email",
			"raised_by": sender,
			"raised_by_name": f"Customer {s}",
			"contact": contact,
			"queue": QUEUES[rng.randrange(len(QUEUES))],
			"last_worked_by": agent if responded else None,
			"opened_on": created,
			"last_customer_update": last_customer,
			"first_responded_on": responded,
			"first_response_time": None,  # working time: seed() sets it (sla.durations)
			"resolved_on": resolved,
			"resolution_time": None,
			"closed_on": closed,
			"sla_due": sla_due,
			"thread_token": f"yr{i:06d}{rng.getrandbits(40):010x}",
			"reopen_count": int(rng.random() < 0.05),
			"cloned_from": f"{PREFIX}{parent_of:06d}" if parent_of is not None else None,
			"cloned_to": f"{PREFIX}{child:06d}" if child is not None else None,
			"service_level_agreement": "Default",
			"agreement_status": agreement,
			"response_by": response_by,
			"resolution_by": resolution_by,
			"on_hold_since": on_hold,
			"total_hold_time": 0,
			"relevance_key": relevance_key(status, sla_due, last_customer),
			"merged_into": f"{PREFIX}{merged:06d}" if merged is not None else None,
			"email_account": mailbox,
			"_assign": json.dumps([agent]) if not done else "[]",
		}

	def emails(self, i, case):
		"""The case's Communications: the customer's first mail, then agent and customer in turn."""
		rng = random.Random(i * 7919 + SEED)
		count = min(1 + int(rng.expovariate(1 / 3.5)), 30)  # about 4 a case
		end = case["closed_on"] or case["resolved_on"] or self.anchor - timedelta(minutes=1)
		start = case["creation"]
		span = max((end - start).total_seconds(), 60)
		mailbox = case["email_account"]
		address = f"{mailbox.split()[-1].lower()}@yr.test"
		rows, previous = [], None
		for k in range(count):
			when = start + timedelta(seconds=span * (k / count)) if k else start
			received = k % 2 == 0
			name = f"{PREFIX}M{i:06d}-{k:02d}"
			rows.append(
				{
					"name": name,
					"creation": when,
					"modified": when,
					"modified_by": "Administrator",
					"owner": "Administrator" if received else case["modified_by"],
					"docstatus": 0,
					"idx": 0,
					"subject": case["subject"]
					if k == 0
					else f"Re: {case['subject']} [#{case['thread_token']}]",
					"communication_medium": "Email",
					"sender": case["raised_by"] if received else case["modified_by"],
					"sender_full_name": case["raised_by_name"] if received else "Agent",
					"recipients": address if received else case["raised_by"],
					"content": f"<p>Message {k} about {case['subject']}.</p>",
					"communication_type": "Communication",
					"status": "Linked",
					"sent_or_received": "Received" if received else "Sent",
					"communication_date": when,
					"reference_doctype": "Case",
					"reference_name": case["name"],
					"email_account": mailbox,
					"in_reply_to": previous,
					"message_id": f"yr{i}.{k}@{'client' if received else 'yr'}.test",
					"seen": 1,
					"email_status": "Open",
					"delivery_status": "" if received else "Sent",
				}
			)
			previous = name
		return rows

	def unprocessed(self, i, case):
		"""About one mail in 23 reached no case at first (no route, auto-replies, bounces, spam)."""
		if i % 23:
			return None
		rng = random.Random(i * 31 + SEED)
		when = case["creation"] - timedelta(minutes=rng.randint(1, 600))
		age = (self.anchor - when).days
		mailbox = rng.choices(self.mailboxes, [0.3, 0.2, 0.2, 0.3])[0]
		# Recent mail still waits; older mail was handled, except a Returns mailbox nobody watches.
		waits = age < 3 or (mailbox == "YR Returns" and rng.random() < 0.3)
		status = "Unprocessed" if waits else rng.choices(["Processed", "Deleted"], [0.6, 0.4])[0]
		comm = f"{PREFIX}U{i:06d}"
		sender = f"noreply{i % 997}@bulk{i % 37}.test"
		subject = f"Auto: {case['subject']}"
		email = {
			"name": comm,
			"creation": when,
			"modified": when,
			"modified_by": "Administrator",
			"owner": "Administrator",
			"docstatus": 0,
			"idx": 0,
			"subject": subject,
			"communication_medium": "Email",
			"sender": sender,
			"sender_full_name": "",
			"recipients": f"{mailbox.split()[-1].lower()}@yr.test",
			"content": "<p>Automatic message.</p>",
			"communication_type": "Communication",
			"status": "Open",
			"sent_or_received": "Received",
			"communication_date": when,
			"reference_doctype": None,
			"reference_name": None,
			"email_account": mailbox,
			"in_reply_to": None,
			"message_id": f"yru{i}@bulk.test",
			"seen": 0,
			"email_status": "Open",
			"delivery_status": "",
		}
		row = {
			"name": f"{PREFIX}UNP{i:06d}",
			"creation": when,
			"modified": when,
			"modified_by": "Administrator",
			"owner": "Administrator",
			"docstatus": 0,
			"idx": 0,
			"status": status,
			"reason": rng.choice(REASONS),
			"subject": subject,
			"sender": sender,
			"email_account": mailbox,
			"mailbox_address": email["recipients"],
			"received_on": when,
			"communication": comm,
			"case": case["name"] if status == "Processed" else None,
		}
		return email, row


# --- bulk SQL ------------------------------------------------------------------------------------


def insert_rows(frappe, table, rows):
	"""Multi-row INSERTs, ROWS_PER_INSERT rows each, escaped by the driver."""
	if not rows:
		return
	columns = list(rows[0])
	escape = frappe.db._conn.escape
	head = f"insert into `tab{table}` ({', '.join(f'`{c}`' for c in columns)}) values "
	for start in range(0, len(rows), ROWS_PER_INSERT):
		chunk = rows[start : start + ROWS_PER_INSERT]
		values = ",".join("(" + ",".join(escape(row[c]) for c in columns) + ")" for row in chunk)
		frappe.db.sql(head + values)


def contact_rows(s, name, sender, when):
	contact = {
		"name": name, "creation": when, "modified": when, "modified_by": "Administrator",
		"owner": "Administrator", "docstatus": 0, "idx": 0, "first_name": "Customer",
		"last_name": str(s), "full_name": f"Customer {s}", "email_id": sender, "status": "Passive",
	}  # fmt: skip
	email = {
		"name": f"{name}-E", "creation": when, "modified": when, "modified_by": "Administrator",
		"owner": "Administrator", "docstatus": 0, "idx": 1, "email_id": sender, "is_primary": 1,
		"parent": name, "parentfield": "email_ids", "parenttype": "Contact",
	}  # fmt: skip
	return contact, email


def todo_row(case):
	done = case["status"] in ("Resolved", "Closed")
	agent = json.loads(case["_assign"])[0] if not done else case["last_worked_by"] or AGENTS[0]
	return {
		"name": f"{PREFIX}T{case['name'][len(PREFIX):]}", "creation": case["creation"],
		"modified": case["modified"], "modified_by": "Administrator", "owner": "Administrator",
		"docstatus": 0, "idx": 0, "status": "Closed" if done else "Open", "priority": "Medium",
		"allocated_to": agent, "description": case["subject"], "reference_type": "Case",
		"reference_name": case["name"], "assigned_by": "Administrator",
	}  # fmt: skip


def seeded_count(frappe):
	return frappe.db.sql(f"select count(*) from `tabCase` where name like '{PREFIX}%%'")[0][0]


def seed(frappe, plan, upto):
	"""Seed the newest `upto` cases of the plan (continuing from what is there)."""
	have = seeded_count(frappe)
	if have >= upto:
		return 0.0
	from case_threads.sla import durations

	known = set(frappe.db.sql_list(f"select name from `tabContact` where name like '{PREFIX}C%%'"))
	frappe.db.sql("set session unique_checks = 0, foreign_key_checks = 0")
	started = time.perf_counter()
	newest = plan.total - 1
	for first in range(have, upto, BATCH):
		last = min(first + BATCH, upto)
		cases, emails, unprocessed, todos, contacts, contact_emails = [], [], [], [], [], []
		for rank in range(first, last):
			i = newest - rank
			case = plan.case(i)
			# What the Case controller stores when a case is answered / resolved (working time).
			case.update(durations(case))
			cases.append(case)
			emails.extend(plan.emails(i, case))
			todos.append(todo_row(case))
			if extra := plan.unprocessed(i, case):
				emails.append(extra[0])
				unprocessed.append(extra[1])
			if case["contact"] not in known:
				known.add(case["contact"])
				s = int(case["contact"][len(PREFIX) + 1 :])
				contact, email = contact_rows(s, case["contact"], case["raised_by"], case["creation"])
				contacts.append(contact)
				contact_emails.append(email)
		for table, rows in (
			("Case", cases),
			("Communication", emails),
			("Unprocessed Email", unprocessed),
			("ToDo", todos),
			("Contact", contacts),
			("Contact Email", contact_emails),
		):
			insert_rows(frappe, table, rows)
		frappe.db.commit()
		progress(f"seeding to {upto} cases", last, upto)
	frappe.db.sql("set session unique_checks = 1, foreign_key_checks = 1")
	return time.perf_counter() - started


def unseed(frappe):
	"""Delete every seeded row (--reseed)."""
	for table, column in (
		("Communication", "name"), ("Unprocessed Email", "name"), ("ToDo", "name"),
		("Contact Email", "parent"), ("Contact", "name"), ("Case", "name"),
	):  # fmt: skip
		while True:
			frappe.db.sql(f"delete from `tab{table}` where `{column}` like '{PREFIX}%%' limit 50000")
			frappe.db.commit()
			if not frappe.db.sql(f"select 1 from `tab{table}` where `{column}` like '{PREFIX}%%' limit 1"):
				break
	frappe.defaults.clear_default("case_threads_year_anchor")
	frappe.db.commit()


def setup(frappe):
	"""Mailboxes, queues, agents (Case Agent, each in one or two mailboxes), the Default policy."""
	from case_threads import sla

	sla.ensure_default_policy()
	import run

	frappe.flags.in_test = True  # Email Account.validate would try the (absent) mail server
	for name, _ in MAILBOXES:
		run.offline_mailbox(frappe, f"YR {name}", f"{name.lower()}@yr.test", incoming=0)
	frappe.flags.in_test = False
	for k, agent in enumerate(AGENTS):
		if frappe.db.exists("User", agent):
			continue
		boxes = {MAILBOXES[k % 4][0], MAILBOXES[(k + 1) % 4][0]} if k % 2 else {MAILBOXES[k % 4][0]}
		user = frappe.get_doc(
			{
				"doctype": "User",
				"email": agent,
				"first_name": f"Agent {k}",
				"send_welcome_email": 0,
				"roles": [{"role": "Case Agent"}],
				"user_emails": [{"email_account": f"YR {box}"} for box in sorted(boxes)],
			}
		)
		user.flags.no_welcome_mail = True
		user.insert(ignore_permissions=True)
	for k, queue in enumerate(QUEUES):
		if not frappe.db.exists("User Group", queue):
			members = [{"user": agent} for agent in AGENTS[k::3]]
			frappe.get_doc(
				{"doctype": "User Group", "__newname": queue, "user_group_members": members}
			).insert(ignore_permissions=True)
	frappe.db.commit()


def anchor_of(frappe):
	"""The seed's "now": kept in a default so that a later run continues the same year."""
	from frappe.utils import get_datetime, now_datetime

	stored = frappe.db.get_default("case_threads_year_anchor")
	if stored:
		return get_datetime(stored)
	anchor = now_datetime().replace(microsecond=0)
	frappe.db.set_default("case_threads_year_anchor", str(anchor))
	frappe.db.commit()
	return anchor


# --- measuring -----------------------------------------------------------------------------------


def timed(fn, runs, warm=2):
	for _ in range(warm):
		start = time.perf_counter()
		fn()
		first = time.perf_counter() - start
	if warm and first > 0.3:
		runs = min(runs, 7)  # a slow report: fewer runs, still a median and a spread
	samples = []
	for _ in range(runs):
		start = time.perf_counter()
		fn()
		samples.append((time.perf_counter() - start) * 1000)
	samples.sort()
	return {
		"median_ms": statistics.median(samples),
		"p95_ms": samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)],
		"min_ms": samples[0],
		"max_ms": samples[-1],
		"runs": runs,
	}


def desk_queries(frappe, plan, agent, size):
	"""name → callable: what the desk sends (the calls test_query_plans EXPLAINs), as `agent`."""
	from case_threads.tests.test_query_plans import desk_calls

	rng = random.Random(size)
	newest = plan.total - 1
	sample = [plan.case(newest - rank) for rank in rng.sample(range(size), 50)]
	picks = iter(range(10**9))
	# Customer 0 writes most often (about 1 case in 80): the longest history there is.
	heavy = ("cust0@client0.test", f"{PREFIX}C000000")
	return desk_calls(agent, plan.mailboxes, lambda: sample[next(picks) % len(sample)], heavy)


def plan_summary(call):
	"""table:type:key:rows of each SELECT on a big table that `call` sends (EXPLAIN)."""
	from case_threads.tests.test_query_plans import plans_of

	return [
		[f"{r.table}:{r.type}:{r.key}:{r.rows}" for r in rows if r.table] for _query, rows in plans_of(call)
	]


LIST_QUERIES = (
	"Case list",
	"Link search",
	"Contact case history",
	"Connect dialog",
	"Unprocessed list",
	"Unprocessed count",
	"Case form",
)


def match_timings(frappe, plan, size, samples):
	"""Match a reply to a seeded case, the app's own path (decide_for: evidence, routes, internal)."""
	from case_threads.core import Message
	from case_threads.mail.inbound import decide_for

	rng = random.Random(size + 1)
	newest = plan.total - 1
	picks = [newest - rng.randrange(size) for _ in range(samples)]
	replies = []
	for i in picks:
		case = plan.case(i)
		last = plan.emails(i, case)[-1]
		replies.append(
			(
				frappe._dict(
					sender=case["raised_by"], email_account=case["email_account"], flags=frappe._dict()
				),
				Message(
					message_id=f"<reply{i}@client.test>",
					in_reply_to=(last["message_id"],),
					references=(plan.emails(i, case)[0]["message_id"], last["message_id"]),
					from_addr=case["raised_by"],
					subject=f"Re: {case['subject']} [#{case['thread_token']}]",
					to=(f"{case['email_account'].split()[-1].lower()}@yr.test",),
				),
			)
		)
	it = iter(replies * 2)
	return timed(lambda: decide_for(*next(it)), samples, warm=samples // 10 or 1)


def receive_figures(bench, site, mails):
	"""run.py's receive worker (Email Account.receive, IMAP calls replaced) on this site."""
	sys.path.insert(0, str(REPO / "benchmarks"))
	import run

	os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
	return run.worker(bench, "--worker", "receive", "--site", site, "--mails", str(mails))


def measure(frappe, plan, size, args, bench):
	frappe.db.sql("analyze table `tabCase`, `tabCommunication`, `tabUnprocessed Email`, `tabToDo`")
	time.sleep(args.settle)  # InnoDB purge and change buffer after the bulk insert
	agent = AGENTS[0]
	frappe.set_user("Administrator")
	result = {"cases": seeded_count(frappe), "match": match_timings(frappe, plan, size, args.samples)}
	frappe.set_user(agent)
	result["queries"] = {}
	for name, fn in desk_queries(frappe, plan, agent, size).items():
		if args.queries and not any(part in name for part in args.queries.split(",")):
			continue
		result["queries"][name] = timed(fn, args.runs)
		result["queries"][name]["plan"] = plan_summary(fn)
		print(
			f"  {name:<52}{result['queries'][name]['median_ms']:>9.1f}{result['queries'][name]['p95_ms']:>9.1f}",
			file=sys.stderr,
		)
	frappe.set_user("Administrator")
	frappe.db.commit()
	if args.mails:
		result["receive"] = receive_figures(bench, args.site, args.mails)
	return result


def table(small, large):
	rows = [
		(
			"figure",
			f"{small['cases']:,} med / p95",
			f"{large['cases']:,} med / p95",
			"ratio",
			"ok",
			f"plan at {large['cases']:,} (table:type:key)",
		)
	]

	def add(name, a, b, is_list=False):
		ratio = b["median_ms"] / a["median_ms"] if a["median_ms"] else float("nan")
		ok = ratio <= 1.2 and (not is_list or b["p95_ms"] < 200)
		plan = " ".join(
			":".join(p.split(":")[:3]) for q in b.get("plan", []) for p in q if "tabCase Participant" not in p
		)
		rows.append(
			(
				name,
				f"{a['median_ms']:.1f} / {a['p95_ms']:.1f}",
				f"{b['median_ms']:.1f} / {b['p95_ms']:.1f}",
				f"{ratio:.2f}",
				"yes" if ok else "NO",
				plan,
			)
		)

	add("match a reply (ms)", small["match"], large["match"])
	for name in small["queries"]:
		if name not in large["queries"]:
			continue
		add(name + " (ms)", small["queries"][name], large["queries"][name], name.startswith(LIST_QUERIES))
	if "receive" in small and "receive" in large:
		for key, label in (("new_per_s", "new mails/s"), ("reply_per_s", "replies/s")):
			a, b = small["receive"][key], large["receive"][key]
			rows.append(
				(
					f"receive: {label}",
					f"{a:.1f}",
					f"{b:.1f}",
					f"{b / a:.2f}",
					"yes" if b / a >= 1 / 1.2 else "NO",
					"",
				)
			)
	widths = [max(len(r[k]) for r in rows) for k in range(6)]
	return "\n".join(
		"  ".join(
			c.ljust(w) if k in (0, 5) else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True))
		)
		for r in rows
	)


def main(args):
	bench = Path(args.bench).expanduser()
	args.small, args.big = (int(n) for n in args.sizes.split(","))
	sys.path.insert(0, str(REPO))
	os.chdir(bench / "sites")
	import frappe

	frappe.init(site=args.site, sites_path=".")
	frappe.connect()
	if args.reseed:
		unseed(frappe)
	setup(frappe)
	plan = Plan(args.big, anchor_of(frappe), senders=args.big // 4)
	results = {"site": args.site, "small": args.small, "big": args.big, "anchor": str(plan.anchor)}
	have = seeded_count(frappe)
	if have > args.small and not args.measure_only:
		print(
			f"{have} cases already seeded (more than {args.small}): --reseed to measure both sizes",
			file=sys.stderr,
		)
	results["seed_small_s"] = seed(frappe, plan, args.small)
	if seeded_count(frappe) <= args.small:
		print(f"at {args.small} cases:", file=sys.stderr)
		results["at_small"] = measure(frappe, plan, args.small, args, bench)
	results["seed_big_s"] = seed(frappe, plan, args.big)
	print(f"at {args.big} cases:", file=sys.stderr)
	results["at_big"] = measure(frappe, plan, args.big, args, bench)
	results["rows"] = {
		t: frappe.db.sql(f"select count(*) from `tab{t}`")[0][0]
		for t in ("Case", "Communication", "Unprocessed Email", "ToDo", "Contact")
	}
	out = REPO / "benchmarks" / "out"
	out.mkdir(exist_ok=True)
	if "at_small" not in results and (out / "year.json").exists():
		# Measured at the big size only (--measure-only): the small figures of the last full run.
		results["at_small"] = json.loads((out / "year.json").read_text()).get("at_small")
	(out / args.out).write_text(json.dumps(results, indent=1, default=str))
	frappe.destroy()
	print(
		f"\nseeding: {results['seed_small_s']:.0f} s to {args.small:,}, {results['seed_big_s']:.0f} s more to {args.big:,}; rows {results['rows']}"
	)
	if results.get("at_small"):
		print(table(results["at_small"], results["at_big"]))
	print(f"\nJSON: {out / args.out}")


def add_arguments(parser):
	parser.add_argument(
		"--sizes", default="10000,250000", help="cases to measure at: the small size, then the big one"
	)
	parser.add_argument("--samples", type=int, default=300, help="replies matched per size")
	parser.add_argument("--runs", type=int, default=20, help="timed runs of each desk query")
	parser.add_argument(
		"--year-mails", dest="mails", type=int, default=50, help="mails through receive per size (0: skip)"
	)
	parser.add_argument("--settle", type=int, default=10, help="seconds to let InnoDB settle before timing")
	parser.add_argument("--reseed", action="store_true", help="delete the seeded rows first")
	parser.add_argument("--measure-only", action="store_true")
	parser.add_argument("--out", default="year.json", help="file name under benchmarks/out")
	parser.add_argument("--queries", help="time only the desk queries whose names contain one of these (a,b)")


if __name__ == "__main__":
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--bench", default=os.environ.get("CASE_THREADS_BENCH", "~/frappe-bench"))
	parser.add_argument("--site", default="ct-year.test")
	add_arguments(parser)
	main(parser.parse_args())
