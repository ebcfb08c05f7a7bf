"""The Case Threads workspace's custom number card and charts (F26).

Cards and charts that Frappe can count itself (open, waiting, overdue, due today, backlog by queue,
Unprocessed by mailbox) are plain standard Number Card / Dashboard Chart records of the module.
Here only what needs a median or two series: the methods below are whitelisted, check that the
viewer may read Case, and read through frappe.get_list, so every figure counts only what the
viewer may read. core.figures does the arithmetic.

At a year of data (benchmarks/year.py) they read few rows: counts per day come from SQL (GROUP BY
through frappe.get_list), and response times are the working seconds each case stores when it is
answered (Case.first_response_time, case_threads.sla.durations), not recomputed here.
"""

import frappe
from frappe import _
from frappe.utils import add_days, get_datetime, getdate, now_datetime

from case_threads.core.figures import bucket, median, period_starts, sum_counts

DAYS = 30
WEEKS = 12


def _check_read():
	if not frappe.has_permission("Case", "read"):
		frappe.throw(_("Not permitted"), frappe.PermissionError)


def _now(now=None):
	return get_datetime(now) if now else now_datetime()


def _first_responses(since, until):
	"""(first_responded_on, stored working seconds) of the cases first answered in [since, until)."""
	rows = frappe.get_list(
		"Case",
		fields=["first_responded_on", "first_response_time"],
		filters=[["first_responded_on", ">=", since], ["first_responded_on", "<", until]],
		order_by=None,
		limit_page_length=0,
		as_list=True,
	)
	return [(when, None if seconds is None else float(seconds)) for when, seconds in rows]


def _per_day(datefield, filters, by=None):
	"""[(day, `by` value, count)] of the cases per day of `datefield`, counted by the database."""
	extra = [by] if by else []
	rows = frappe.get_list(
		"Case",
		fields=[f"date(`tabCase`.`{datefield}`) as day", *extra, "count(*) as n"],
		filters=filters,
		group_by=", ".join([f"date(`tabCase`.`{datefield}`)", *extra]),
		order_by=None,
		limit_page_length=0,
		as_list=True,
	)
	return [(row[0], row[1] if by else 1, row[-1]) for row in rows]


@frappe.whitelist()
def median_first_response_today(filters=None, now=None):
	"""Number card: median working time to the first answer of the cases first answered today."""
	_check_read()
	today = getdate(_now(now))
	values = [
		seconds for _, seconds in _first_responses(get_datetime(today), get_datetime(add_days(today, 1)))
	]
	value = median(values)
	return {"value": value or 0, "fieldtype": "Duration"}


def _chart(labels, datasets):
	return {"labels": labels, "datasets": datasets}


@frappe.whitelist()
def opened_vs_resolved(chart_name=None, filters=None, now=None, **kwargs):
	"""Chart: cases opened and cases resolved per day, the last 30 days."""
	_check_read()
	end = getdate(_now(now))
	starts = period_starts(end, "Day", DAYS)
	since = get_datetime(starts[0])
	opened = _per_day("opened_on", [["opened_on", ">=", since]])
	resolved = _per_day("resolved_on", [["resolved_on", ">=", since]])
	return _chart(
		[str(day) for day in starts],
		[
			{"name": _("Opened"), "values": sum_counts(opened, starts, "Day")},
			{"name": _("Resolved"), "values": sum_counts(resolved, starts, "Day")},
		],
	)


@frappe.whitelist()
def sla_results_weekly(chart_name=None, filters=None, now=None, **kwargs):
	"""Chart: cases whose agreement was Fulfilled / Failed, by the week they were opened (12 weeks)."""
	_check_read()
	starts = period_starts(getdate(_now(now)), "Week", WEEKS)
	days = _per_day(
		"opened_on",
		[["opened_on", ">=", get_datetime(starts[0])], ["agreement_status", "in", ["Fulfilled", "Failed"]]],
		by="agreement_status",
	)
	return _chart(
		[str(week) for week in starts],
		[
			{
				"name": _("Fulfilled"),
				"values": sum_counts([d for d in days if d[1] == "Fulfilled"], starts, "Week"),
			},
			{
				"name": _("Failed"),
				"values": sum_counts([d for d in days if d[1] == "Failed"], starts, "Week"),
			},
		],
	)


@frappe.whitelist()
def first_response_weekly(chart_name=None, filters=None, now=None, **kwargs):
	"""Chart: median working hours to the first answer, by the week of the answer (12 weeks)."""
	_check_read()
	now = _now(now)
	starts = period_starts(getdate(now), "Week", WEEKS)
	pairs = _first_responses(get_datetime(starts[0]), get_datetime(add_days(getdate(now), 1)))
	weeks = bucket(pairs, starts, "Week")
	return _chart(
		[str(week) for week in starts],
		[
			{
				"name": _("Median First Response (hours)"),
				"values": [round((median(v) or 0) / 3600, 2) for v in weeks],
			}
		],
	)
