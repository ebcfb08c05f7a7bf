"""Case search for the Link field and the Connect dialog (issue 19): the plan from
core.case_search, run as one UNION of indexed lookups, each with the caller's permissions."""

import frappe
from frappe.desk.reportview import get_filters_cond, get_match_cond

from case_threads.core.case_search import naming_series, plan_case_search

# MATCH needs this index; Case.on_doctype_update adds it.
FULLTEXT_INDEX = "subject_fulltext"


def ensure_fulltext_index():
	"""FULLTEXT on Case.subject (Frappe's add_index makes only B-tree indexes)."""
	if not frappe.db.sql("show index from `tabCase` where Key_name = %s", FULLTEXT_INDEX):
		frappe.db.sql_ddl(f"alter table `tabCase` add fulltext index `{FULLTEXT_INDEX}` (`subject`)")


def _check_read():
	ptype = "select" if frappe.only_has_select_perm("Case") else "read"
	frappe.has_permission("Case", ptype, throw=True)


def find_cases(txt, fields, order_by="modified", filters=None, start=0, limit=20, link_search=False):
	"""Cases matching txt, newest `order_by` first, as dicts of `fields`, that the user may read.

	link_search also finds by sender address prefix and by status, as Frappe's Link search does
	through Case's search fields."""
	_check_read()
	meta = frappe.get_meta("Case")
	prefix, digits = naming_series(meta.autoname)
	plan = plan_case_search(
		txt,
		name_prefix=prefix,
		name_digits=digits,
		statuses=tuple(meta.get_options("status").split("\n")) if link_search else (),
		by_sender=link_search,
	)
	if plan is None:
		return []
	values = {"phrase": f"%{plan.phrase}%", "fulltext": plan.fulltext}
	lookups = [
		"match(`subject`) against (%(fulltext)s in boolean mode) and `subject` like %(phrase)s"
		if plan.fulltext
		else "`subject` like %(phrase)s"  # no word the index holds (short words, Chinese…): a scan
	]
	if plan.names:
		lookups.append("`name` in %(names)s")
		values["names"] = plan.names
	if plan.name_prefix:
		lookups.append("`name` like %(name_prefix)s")
		values["name_prefix"] = f"{plan.name_prefix}%"
	if plan.email_prefix:
		lookups.append("`raised_by` like %(email_prefix)s")
		values["email_prefix"] = f"{plan.email_prefix}%"
	if plan.statuses:
		lookups.append("`status` in %(statuses)s")
		values["statuses"] = plan.statuses

	# Frappe quotes the values in both; get_match_cond already doubles % for the driver's formatting.
	conditions = get_filters_cond("Case", filters, []).replace("%", "%%") + get_match_cond("Case")
	columns = ", ".join(f"`{f}`" for f in fields)
	order = f"`{order_by}` desc"
	values["upto"] = start + limit
	values["start"], values["limit"] = start, limit
	# Each lookup keeps its own index and its own newest rows; the union merges and pages them.
	union = " union ".join(
		f"(select {columns} from `tabCase` where ({lookup}){conditions} order by {order} limit %(upto)s)"
		for lookup in lookups
	)
	return frappe.db.sql(
		f"select * from ({union}) found order by {order} limit %(start)s, %(limit)s", values, as_dict=True
	)


@frappe.whitelist()
@frappe.validate_and_sanitize_search_inputs
def case_link_query(doctype, txt, searchfield, start, page_len, filters):
	"""standard_queries for Case: what Frappe's Link search and search box show (number, title,
	sender, status), without reading every case for a word."""
	fields = ["name", "subject", "raised_by", "status", "modified"]
	if not (txt or "").strip():
		_check_read()
		rows = frappe.get_list(
			"Case",
			filters=filters,
			fields=fields,
			order_by="modified desc",
			start=start,
			page_length=page_len,
		)
	else:
		rows = find_cases(txt, fields, filters=filters, start=start, limit=page_len, link_search=True)
	return [(r.name, r.subject, r.raised_by, r.status) for r in rows]
