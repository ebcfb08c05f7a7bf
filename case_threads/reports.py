"""Shell of the team lead's reports (F26): read what the viewer may read, let core.figures count.

Every read goes through frappe.get_list, so Case and Unprocessed Email permissions (roles, user
permissions, permission_query_conditions) apply: an agent's figures are of the cases and mail they
may read. Times are working time on each case's SLA calendar (case_threads.sla.case_calendar),
wall time for a case with no calendar at all, stored on the case when they happen
(Case.first_response_time / resolution_time, case_threads.sla.durations).
"""

import frappe
from frappe import _
from frappe.utils import get_datetime, getdate, now_datetime

from case_threads.core.figures import CaseTimes, Waiting, aging, period_start, summarize_groups

GROUP_FIELDS = {"Agent": "last_worked_by", "Queue": "queue", "Email Route": "email_route"}
PERIODS = ("Day", "Week", "Month", "Year")
REASONS = ("No Route", "Only Bcc", "Auto-Reply", "Bounce", "Bulk", "Error", "Disconnected", "Spam")


def case_filters(filters) -> list:
	result = []
	if filters.get("from_date"):
		result.append(["opened_on", ">=", get_datetime(getdate(filters["from_date"]))])
	if filters.get("to_date"):
		result.append(["opened_on", "<", frappe.utils.add_days(getdate(filters["to_date"]), 1)])
	for key in ("queue", "email_route"):
		if filters.get(key):
			result.append([key, "=", filters[key]])
	return result


def _seconds(value) -> float | None:
	return None if value is None else float(value)


def _names_with(field, filters) -> set:
	"""Names of the report's cases whose `field` (cloned_to, merged_into: a few in a hundred) is set,
	read through that field's index."""
	return set(
		frappe.get_list(
			"Case",
			filters=[*case_filters(filters), [field, ">", ""]],
			order_by=None,
			limit_page_length=0,
			ignore_ifnull=True,
			pluck="name",
		)
	)


def case_times(filters) -> list[CaseTimes]:
	"""The cases of the report, read with their stored durations (Case.first_response_time,
	resolution_time: working time, set by the Case controller), only the columns the figures need:
	those of the covering index case_response_times_index (Case.on_doctype_update), then the few
	cloned and merged cases by their own indexes."""
	group_by = filters.get("group_by") or "Agent"
	group_fields = ["opened_on", "creation"] if group_by == "Period" else [GROUP_FIELDS[group_by]]
	fields = [
		"name",
		*group_fields,
		"first_response_time",
		"resolution_time",
		"agreement_status",
		"reopen_count",
	]
	rows = frappe.get_list(
		"Case",
		fields=fields,
		filters=case_filters(filters),
		order_by=None,
		limit_page_length=0,
		as_list=True,
		# With a from date, no coalesce() on the to date: the index range ends there (opened_on is
		# always set); without one, a case with no opened_on still counts, as before.
		ignore_ifnull=bool(filters.get("from_date")),
	)
	cloned = _names_with("cloned_to", filters)
	merged = (
		_names_with("merged_into", filters) if frappe.get_meta("Case").has_field("merged_into") else set()
	)
	period = filters.get("period") or "Week"
	result = []
	for row in rows:
		name, *row = row
		if group_by == "Period":
			opened, creation, *row = row
			group = str(period_start(get_datetime(opened or creation), period))
		else:
			group, *row = row
		first_response, resolution, agreement_status, reopen_count = row
		result.append(
			CaseTimes(
				group=group,
				first_response=_seconds(first_response),
				resolution=_seconds(resolution),
				agreement_status=agreement_status,
				reopened=bool(reopen_count),
				cloned=name in cloned,
				merged=name in merged,
			)
		)
	return result


def response_times(filters):
	"""columns, data, message, chart of the Case Response Times report."""
	filters = frappe._dict(filters or {})
	group_by = filters.get("group_by") or "Agent"
	if group_by not in (*GROUP_FIELDS, "Period"):
		frappe.throw(_("Unknown grouping: {0}").format(group_by))
	if group_by == "Period" and (filters.get("period") or "Week") not in PERIODS:
		frappe.throw(_("Unknown period: {0}").format(filters.get("period")))
	summaries = summarize_groups(case_times(filters))
	label = {"Agent": _("Agent"), "Queue": _("Queue"), "Email Route": _("Email Route"), "Period": _("Period")}
	# Data, not Link: Frappe's query_report would drop rows whose User / User Group / Email Route the
	# viewer may not open, and the figures are about cases, which the viewer may read.
	columns = [
		{"fieldname": "group", "label": label[group_by], "fieldtype": "Data", "width": 200},
		{"fieldname": "cases", "label": _("Cases"), "fieldtype": "Int", "width": 80},
		{
			"fieldname": "median_first_response",
			"label": _("Median First Response"),
			"fieldtype": "Duration",
			"width": 170,
		},
		{
			"fieldname": "p90_first_response",
			"label": _("P90 First Response"),
			"fieldtype": "Duration",
			"width": 160,
		},
		{
			"fieldname": "median_resolution",
			"label": _("Median Resolution"),
			"fieldtype": "Duration",
			"width": 160,
		},
		{
			"fieldname": "sla_fulfilled_pct",
			"label": _("SLA Fulfilled %"),
			"fieldtype": "Percent",
			"width": 120,
		},
		{"fieldname": "reopened", "label": _("Reopened"), "fieldtype": "Int", "width": 90},
		{"fieldname": "cloned", "label": _("Cloned"), "fieldtype": "Int", "width": 80},
		{"fieldname": "merged", "label": _("Merged"), "fieldtype": "Int", "width": 80},
	]
	data = []
	for s in summaries[:-1]:
		data.append({**s.__dict__, "group": s.group if s.group is not None else _("(none)")})
	if summaries:
		data.append({**summaries[-1].__dict__, "group": _("Total"), "bold": 1, "is_total_row": 1})
	chart = {
		"data": {
			"labels": [row["group"] for row in data[:-1]],
			"datasets": [
				{
					"name": _("Median First Response (hours)"),
					"values": [round((row["median_first_response"] or 0) / 3600, 2) for row in data[:-1]],
				}
			],
		},
		"type": "bar",
	}
	message = _(
		"Times are working time on each case's service level calendar (wall time for a case with none)."
	)
	return columns, data, message, chart


def unprocessed_aging(filters=None):
	"""columns, data, message, chart of the Unprocessed Email Aging report."""
	filters = frappe._dict(filters or {})
	query = {"status": "Unprocessed"}
	if filters.get("email_account"):
		query["email_account"] = filters.email_account
	rows = frappe.get_list(
		"Unprocessed Email",
		fields=["email_account", "reason", "received_on", "creation"],
		filters=query,
		limit_page_length=0,
	)
	now = get_datetime(filters.get("now")) if filters.get("now") else now_datetime()
	boxes = aging(
		[Waiting(r.email_account, r.reason, get_datetime(r.received_on or r.creation)) for r in rows], now
	)
	columns = [
		{"fieldname": "email_account", "label": _("Mailbox"), "fieldtype": "Data", "width": 200},
		{"fieldname": "waiting", "label": _("Waiting"), "fieldtype": "Int", "width": 90},
		{"fieldname": "oldest", "label": _("Oldest"), "fieldtype": "Datetime", "width": 170},
		{
			"fieldname": "oldest_age_hours",
			"label": _("Oldest Age (hours)"),
			"fieldtype": "Float",
			"width": 140,
		},
	]
	for reason in REASONS:
		columns.append(
			{"fieldname": frappe.scrub(reason), "label": _(reason), "fieldtype": "Int", "width": 100}
		)
	data = []
	for box in boxes:
		row = {
			"email_account": box.mailbox,
			"waiting": box.waiting,
			"oldest": box.oldest,
			"oldest_age_hours": box.oldest_age_hours,
		}
		row.update({frappe.scrub(reason): box.by_reason.get(reason, 0) for reason in REASONS})
		data.append(row)
	chart = {
		"data": {
			"labels": [row["email_account"] or _("(none)") for row in data],
			"datasets": [{"name": _("Waiting"), "values": [row["waiting"] for row in data]}],
		},
		"type": "bar",
	}
	return columns, data, None, chart
