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

from case_threads.core.figures import median, median_ranks, period_starts, sum_counts

DAYS = 30
WEEKS = 12


def _check_read():
	if not frappe.has_permission("Case", "read"):
		frappe.throw(_("Not permitted"), frappe.PermissionError)


def _now(now=None):
	return get_datetime(now) if now else now_datetime()


def _median_first_response(since, until):
	"""Median stored working seconds to the first answer of the cases first answered in [since, until).

	Counted by the database, then only the middle one or two values read, in order (a quarter of a
	year's answers is ~55k rows at a year of data, slow to carry into Python); both queries on the
	covering index (first_responded_on, first_response_time). ignore_ifnull: Frappe would wrap the
	upper bound in coalesce(), and the index range would run to the newest answer."""
	filters = [["first_responded_on", ">=", since], ["first_responded_on", "<", until]]
	total, known = frappe.get_list(
		"Case",
		fields=["count(*) as total", "count(first_response_time) as known"],
		filters=filters,
		order_by=None,
		ignore_ifnull=True,
		as_list=True,
	)[0]
	ranks = median_ranks(known)
	if not ranks:
		return None
	values = frappe.get_list(
		"Case",
		fields=["first_response_time"],
		filters=filters,
		order_by="first_response_time asc",
		ignore_ifnull=True,
		# NULLs sort first: the cases without a stored duration are skipped, as median() skips them.
		limit_start=total - known + ranks[0],
		limit_page_length=len(ranks),
		pluck="first_response_time",
	)
	return median(values)


def _per_day(datefield, filters, by=None):
	"""[(day, `by` value, count)] of the cases per day of `datefield`, counted by the database."""
	extra = [by] if by else []
	rows = frappe.get_list(
		"Case",
		fields=[f"date({datefield}) as day", *extra, "count(*) as n"],
		filters=filters,
		group_by=", ".join([f"date({datefield})", *extra]),
		order_by=None,
		ignore_ifnull=True,
		limit_page_length=0,
		as_list=True,
	)
	return [(row[0], row[1] if by else 1, row[-1]) for row in rows]


@frappe.whitelist()
def median_first_response_today(filters=None, now=None):
	"""Number card: median working time to the first answer of the cases first answered today."""
	_check_read()
	today = getdate(_now(now))
	value = _median_first_response(get_datetime(today), get_datetime(add_days(today, 1)))
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
	tomorrow = add_days(getdate(now), 1)  # answers up to today only, in this week too
	medians = [
		_median_first_response(get_datetime(start), get_datetime(min(add_days(start, 7), tomorrow)))
		for start in starts
	]
	return _chart(
		[str(week) for week in starts],
		[
			{
				"name": _("Median First Response (hours)"),
				"values": [round((m or 0) / 3600, 2) for m in medians],
			}
		],
	)
