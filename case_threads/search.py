"""Case search for the Link field and the Connect dialog (issue 19): the plan from
core.case_search, run as indexed lookups (the title's words, then number, sender and status), each
with the caller's permissions and the Link's filters, merged and paged here."""

import frappe
import pymysql
from frappe.desk.reportview import get_filters_cond, get_match_cond

from case_threads.core.case_search import naming_series, plan_case_search, title_has_words

# MATCH needs this index; Case.on_doctype_update adds it.
FULLTEXT_INDEX = "subject_fulltext"
# How many of the newest cases a title search reads before it asks the FULLTEXT index.
RECENT_CASES_PROBED = 2000
# MariaDB's answer when ROWS EXAMINED stops a query that sorts ("Sort aborted: LIMIT ROWS EXAMINED").
SORT_ABORTED = 1028
NO_SUCH_INDEX = 1176
NO_FULLTEXT_INDEX = 1191  # "Can't find FULLTEXT index matching the column list"
# The index that reads Case newest first by each order the searches use (Frappe's own `modified`,
# `creation_index` from Case.on_doctype_update).
ORDER_INDEX = {"modified": "modified", "creation": "creation_index"}


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
	# Frappe quotes the values in both; get_match_cond already doubles % for the driver's formatting.
	conditions = get_filters_cond("Case", filters, []).replace("%", "%%") + get_match_cond("Case")
	columns = ", ".join(f"`{f}`" for f in dict.fromkeys([*fields, "name", "subject", order_by]))
	upto = start + limit
	values = {
		"phrase": f"%{plan.phrase}%", "fulltext": plan.fulltext, "upto": upto, "probe": 3 * upto,
		"examined": RECENT_CASES_PROBED, "names": plan.names, "statuses": plan.statuses,
		"name_prefix": f"{plan.name_prefix}%", "email_prefix": f"{plan.email_prefix}%",
	}  # fmt: skip

	def select(where, cap="limit %(upto)s", hint=""):
		return (
			f"select {columns} from `tabCase` {hint} where ({where}){conditions} "
			f"order by `{order_by}` desc {cap}"
		)

	rows = _by_subject(plan, select, values, order_by)
	# Each other lookup has its own index and keeps its own newest rows; merged and paged below.
	others = [
		where
		for where, wanted in (
			("`name` in %(names)s", plan.names),
			("`name` like %(name_prefix)s", plan.name_prefix),
			("`raised_by` like %(email_prefix)s", plan.email_prefix),
			("`status` in %(statuses)s", plan.statuses),
		)
		if wanted
	]
	if others:
		rows += frappe.db.sql(" union ".join(f"({select(w)})" for w in others), values, as_dict=True)
	unique = {row.name: row for row in rows}.values()
	found = sorted(unique, key=lambda row: (row[order_by], row.name), reverse=True)[start:upto]
	return [frappe._dict({f: row[f] for f in fields}) for row in found]


def _by_subject(plan, select, values, order_by):
	"""The newest cases whose title has the typed text."""
	# A word many titles hold ("order") would make the index list them all, to keep the newest few:
	# the newest cases answer that first, checked as the MATCH would. When they hold too few
	# matches (a rare word), the index answers; without a word it holds (short words, Chinese…),
	# the LIKE reads every case, as Frappe's own search does.
	try:
		# Read newest first whatever the optimizer would guess for a small table: ROWS EXAMINED
		# bounds the cost, and then the index answers.
		hint = f"force index (`{ORDER_INDEX[order_by]}`)" if order_by in ORDER_INDEX else ""
		recent = frappe.db.sql(
			select("`subject` like %(phrase)s", "limit %(probe)s rows examined %(examined)s", hint),
			values,
			as_dict=True,
		)
	except pymysql.err.OperationalError as e:
		if e.args[0] not in (SORT_ABORTED, NO_SUCH_INDEX):
			raise
		recent = []  # the cases were sorted, not read newest first (a site not migrated yet)
	found = [row for row in recent if title_has_words(row.subject, plan.words)]
	if len(found) >= values["upto"]:
		return found[: values["upto"]]
	like = "`subject` like %(phrase)s"
	if plan.fulltext:
		try:
			return frappe.db.sql(
				select(f"match(`subject`) against (%(fulltext)s in boolean mode) and {like}"),
				values,
				as_dict=True,
			)
		except pymysql.err.OperationalError as e:
			if e.args[0] != NO_FULLTEXT_INDEX:
				raise
			# A site not migrated since the index came (install.ensure_indexes adds it): same cases, slower.
	return frappe.db.sql(select(like), values, as_dict=True)


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
