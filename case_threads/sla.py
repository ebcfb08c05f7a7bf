"""Service levels on cases (F23): the Frappe shell around case_threads.core.sla.

Reads a case's agreement and its policy from the database, asks the core what an event does to
it, and writes the result back. Called from the Case controller (insert, status change, first agent
reply) and from the scheduler (breaches). Datetimes in the database are naive wall times of the
site's timezone; the core works on aware instants.
"""

import frappe
from frappe import _
from frappe.desk.doctype.notification_log.notification_log import make_notification_logs
from frappe.utils import get_datetime, get_system_timezone, getdate, now_datetime, to_timedelta

from case_threads.core import sla as core
from case_threads.core.sla_policy import CONDITIONS, Policy, choose_policy, seconds, weekly_hours
from case_threads.core.working_time import Calendar, aware, naive, working_between
from case_threads.shared_cache import forget

POLICIES_CACHE_KEY = "case_threads:sla_policies"
DEFAULT_POLICY = "Default"

# Fields a clone starts without: a clone starts a fresh agreement (F8, F23).
FRESH_FIELDS = (
	"service_level_agreement",
	"response_by",
	"resolution_by",
	"first_responded_on",
	"first_response_time",
	"resolution_time",
	"agreement_status",
	"on_hold_since",
	"total_hold_time",
	"sla_due",
	"relevance_key",
)


# ---- policies ---------------------------------------------------------------------------------


def policies() -> list[Policy]:
	"""The enabled policies; cached until one changes (Case SLA Policy.on_change), and kept for the
	rest of the request or job (an Email Account pull makes many cases)."""
	cached = getattr(frappe.local, "case_threads_sla_policies", None)
	if cached is None:
		cached = frappe.local.case_threads_sla_policies = frappe.cache.get_value(
			POLICIES_CACHE_KEY, _load_policies
		)
	return cached


def clear_policy_cache():
	frappe.local.case_threads_sla_policies = None
	forget(POLICIES_CACHE_KEY)


def _load_policies():
	names = frappe.get_all("Case SLA Policy", filters={"enabled": 1}, pluck="name")
	return [as_policy(frappe.get_doc("Case SLA Policy", name)) for name in names]


def as_policy(doc) -> Policy:
	return Policy(
		name=doc.name,
		calendar=calendar_of(doc),
		targets={
			row.priority or "": core.Targets(seconds(row.response_time), seconds(row.resolution_time))
			for row in doc.priorities
		},
		conditions={key: doc.get(key) or "" for key in CONDITIONS},
		is_default=bool(doc.is_default),
		sequence=doc.sequence or 0,
	)


def calendar_of(doc) -> Calendar:
	rows = [(row.weekday, _minutes(row.start_time), _minutes(row.end_time)) for row in doc.working_hours]
	return Calendar(
		tz=doc.timezone or get_system_timezone(),
		hours=weekly_hours(rows),
		holidays=frozenset(getdate(row.holiday_date) for row in doc.holidays),
	)


def _minutes(value) -> int:
	return int(to_timedelta(value).total_seconds() // 60) if value else 0


def policy_named(name) -> Policy | None:
	return next((p for p in policies() if p.name == name), None)


def case_calendar(case) -> Calendar | None:
	policy = (
		policy_named(case.get("service_level_agreement")) if case.get("service_level_agreement") else None
	)
	policy = policy or choose_policy(policies(), {})
	return policy.calendar if policy else None


# ---- reading and writing the agreement ------------------------------------------------------------


def _tz():
	return get_system_timezone()


def _at(value):
	return aware(get_datetime(value), _tz()) if value else None


def _stored(value):
	return naive(value, _tz()) if value else None


def agreement_of(case) -> core.Agreement:
	return core.Agreement(
		response_by=_at(case.get("response_by")),
		resolution_by=_at(case.get("resolution_by")),
		first_responded_on=_at(case.get("first_responded_on")),
		agreement_status=case.get("agreement_status") or None,
		on_hold_since=_at(case.get("on_hold_since")),
		total_hold_time=seconds(case.get("total_hold_time")),
	)


def values_of(ag: core.Agreement, status, last_customer_update) -> dict:
	"""The Case fields for agreement `ag` of a case in `status`."""
	values = {
		"response_by": _stored(ag.response_by),
		"resolution_by": _stored(ag.resolution_by),
		"agreement_status": ag.agreement_status,
		"on_hold_since": _stored(ag.on_hold_since),
		"total_hold_time": ag.total_hold_time.total_seconds() if ag.agreement_status else None,
		"sla_due": _stored(ag.due),
		"relevance_key": core.relevance_key(status, _stored(ag.due), get_datetime(last_customer_update)),
	}
	if ag.first_responded_on:
		values["first_responded_on"] = _stored(ag.first_responded_on)
	return values


def relevance_values(case) -> dict:
	"""The Relevance order key of `case` as it is now (e.g. after a new customer email)."""
	return {
		"relevance_key": core.relevance_key(
			case.status, case.sla_due, get_datetime(case.last_customer_update)
		)
	}


# ---- events ---------------------------------------------------------------------------------


def on_case_insert(case):
	"""A new case (or a clone: a fresh agreement) gets its policy and due times (Case.before_insert)."""
	if case.cloned_from:
		for fieldname in FRESH_FIELDS:
			case.set(fieldname, None)
	policy = choose_policy(policies(), {key: case.get(key) for key in CONDITIONS})
	targets = policy and policy.targets_for(case.priority)
	ag = core.Agreement()
	if targets:
		opened = now_datetime() if case.cloned_from else case.opened_on
		ag = core.start(_at(opened), targets, policy.calendar)
		case.service_level_agreement = policy.name
	case.update(values_of(ag, case.status, case.last_customer_update))


def on_case_validate(case):
	"""A status change pauses, resumes or ends the clock (Case.validate); keeps the Relevance key."""
	if case.is_new():
		return
	before = case.get_doc_before_save()
	old = before.status if before else case.status
	ag = agreement_of(case)
	calendar = case_calendar(case)
	if old != case.status and calendar:
		ag = core.on_status_change(ag, old, case.status, _at(now_datetime()), calendar)
	case.update(values_of(ag, case.status, case.last_customer_update))


def on_agent_reply(case, when, new_status) -> dict:
	"""An agent's email on `case` at `when` (Case.on_communication_update, which then writes the
	returned values with db_set, without validate): the first one meets the response target, and
	the case waiting on the customer stops the clock."""
	ag = agreement_of(case)
	calendar = case_calendar(case)
	if ag.agreement_status and calendar:
		ag = core.respond(ag, _at(when))
		ag = core.on_status_change(ag, case.status, new_status, _at(when), calendar)
	return values_of(ag, new_status, case.last_customer_update)


# ---- breaches (scheduler) ---------------------------------------------------------------------------


def mark_breaches(now=None):
	"""Mark Failed what has run past its due time and tell the assignees, once (Frappe scheduler).

	One indexed query (agreement_status, sla_due) finds the breaches; each is marked by a
	conditional update, so a second run, or two at once, notify nobody twice.
	"""
	now = get_datetime(now) if now else now_datetime()
	# Plain SQL: frappe.get_all would wrap sla_due in ifnull() for "<", and no index serves that.
	names = frappe.db.sql_list(
		"""select name from `tabCase` where agreement_status in %(running)s and sla_due < %(now)s
		order by sla_due""",
		{"running": core.RUNNING, "now": now},
	)
	for name in names:
		frappe.db.sql(
			"""update `tabCase` set agreement_status=%(failed)s
			where name=%(name)s and agreement_status in %(running)s and sla_due < %(now)s""",
			{"failed": core.FAILED, "name": name, "running": core.RUNNING, "now": now},
		)
		if frappe.db._cursor.rowcount:
			notify_breach(frappe.get_doc("Case", name))
		frappe.db.commit()
	return names


def notify_breach(case):
	target = _("first response") if not case.first_responded_on else _("resolution")
	case.add_comment("Info", _("Service level missed: the {0} was due at {1}.").format(target, case.sla_due))
	assignees = list(frappe.parse_json(case.get("_assign") or "[]") or [])
	if assignees:
		make_notification_logs(
			{
				"type": "Alert",
				"document_type": "Case",
				"document_name": case.name,
				"subject": _("Service level missed on {0}: {1}").format(case.name, case.subject),
				"from_user": "Administrator",
			},
			assignees,
		)


# ---- the list and the form ----------------------------------------------------------------------


@frappe.whitelist()
def sla_ages(names):
	"""SLA age (working seconds the customer has waited on us) of the listed cases the caller may read."""
	names = frappe.parse_json(names) if isinstance(names, str) else names
	if not isinstance(names, list):
		frappe.throw(_("A list of cases is expected."))
	rows = frappe.get_list(
		"Case",
		filters={"name": ["in", names[:500]]},
		fields=["name", "status", "last_customer_update", "service_level_agreement"],
	)
	now = _at(now_datetime())
	ages = {}
	for row in rows:
		calendar = case_calendar(row)
		if calendar is None:
			continue
		age = core.sla_age(row.status, _at(row.last_customer_update), now, calendar)
		ages[row.name] = None if age is None else int(age.total_seconds())
	return ages


# ---- the shipped policy -----------------------------------------------------------------------------


def ensure_default_policy():
	"""Every case, Monday-Friday 09:00-17:00 in the site's timezone, first response in 8 working
	hours, resolution in 3 working days (24 working hours). Made once; editable afterwards."""
	if frappe.db.exists("Case SLA Policy", {"is_default": 1}) or frappe.db.exists(
		"Case SLA Policy", DEFAULT_POLICY
	):
		return
	frappe.get_doc(
		{
			"doctype": "Case SLA Policy",
			"policy_name": DEFAULT_POLICY,
			"enabled": 1,
			"is_default": 1,
			"description": _("Shipped with Case Threads: every case, in office hours."),
			"priorities": [{"priority": "", "response_time": 8 * 3600, "resolution_time": 24 * 3600}],
			"working_hours": [
				{"weekday": day, "start_time": "09:00:00", "end_time": "17:00:00"}
				for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
			],
		}
	).insert(ignore_permissions=True)


def working_seconds(start, end, case) -> float | None:
	"""Working seconds from `start` to `end` on the calendar of `case` (wall time with no calendar);
	None if either is missing. What the reports count and Case stores (first_response_time ...)."""
	if not start or not end:
		return None
	start, end = get_datetime(start), get_datetime(end)
	cal = case_calendar(case)
	if cal is None:
		return max((end - start).total_seconds(), 0.0)
	return working_between(_at(start), _at(end), cal).total_seconds()


def durations(case) -> dict:
	"""The stored working-time durations of `case` (Helpdesk's names): opened → first response,
	opened → resolved. Set with the times themselves, so the dashboard and reports read them."""
	opened = case.get("opened_on") or case.get("creation")
	return {
		"first_response_time": working_seconds(opened, case.get("first_responded_on"), case),
		"resolution_time": working_seconds(opened, case.get("resolved_on"), case),
	}


def working_seconds_between(a, b, case) -> float:
	"""Working seconds from `a` to `b` on the calendar of `case` (tests, reports)."""
	return working_between(_at(a), _at(b), case_calendar(case)).total_seconds()


def backfill_durations(names=None, batch=1000) -> int:
	"""Store first_response_time / resolution_time (durations) of existing cases, `batch` at a time
	in name order, each batch one UPDATE and a commit; all cases with a first response or a
	resolution, or only `names`. Returns how many were written (the patch, tests seeding by SQL)."""
	done, last = 0, ""
	while True:
		rows = frappe.db.sql(
			f"""select name, opened_on, creation, first_responded_on, resolved_on, service_level_agreement
			from `tabCase` where name > %(last)s
				and (first_responded_on is not null or resolved_on is not null)
				{"and name in %(names)s" if names else ""}
			order by name limit %(batch)s""",
			{"last": last, "names": tuple(names or ()), "batch": batch},
			as_dict=True,
		)
		if not rows:
			return done
		values = []
		for row in rows:
			d = durations(row)
			values.append(
				"select {} as name, {} as frt, {} as rt".format(
					frappe.db.escape(row.name),
					"null" if d["first_response_time"] is None else repr(float(d["first_response_time"])),
					"null" if d["resolution_time"] is None else repr(float(d["resolution_time"])),
				)
			)
		frappe.db.sql(
			f"""update `tabCase` c join ({" union all ".join(values)}) v on c.name = v.name
			set c.first_response_time = v.frt, c.resolution_time = v.rt"""
		)
		frappe.db.commit()
		done += len(rows)
		last = rows[-1].name
