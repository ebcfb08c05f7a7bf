"""Merge a case into another and split a case from one email onwards (F24).

The decisions (where a merge lands, which merges are refused, what a split moves) are pure, in
case_threads.core.merge; this module reads the rows, calls them and moves the records. Mail that
arrives later on a merged case is forwarded by case_threads.mail.evidence.newest_descendant, which
follows merged_into as it follows cloned_to: it lands on the target and is never cloned from B.
"""

import frappe
from frappe import _
from frappe.desk.form import assign_to

from case_threads.core.merge import MergeRefused, emails_from, merge_target, notes_from
from case_threads.mail.participants import add_participants
from case_threads.mail.shared_files import share_files

REFUSALS = {
	MergeRefused.SAME: lambda source, target: _("A case cannot be merged into itself."),
	MergeRefused.ALREADY_MERGED: lambda source, target: _("{0} was already merged into another case.").format(
		source
	),
	MergeRefused.LOOP: lambda source, target: _(
		"{0} cannot be merged into {1}: {1} already forwards to {0}."
	).format(source, target),
}


def forward_of(case_name):
	"""Where a case's mail goes instead: the case it was merged into, else its clone."""
	row = frappe.db.get_value("Case", case_name, ["merged_into", "cloned_to"], as_dict=True)
	return row and (row.merged_into or row.cloned_to)


def resolve_target(source, target):
	"""The case `source` is merged into, following the chain from `target`; throws a refusal."""
	try:
		return merge_target(source, target, forward_of)
	except MergeRefused as refusal:
		frappe.throw(REFUSALS[refusal.reason](source, target), title=_("Cannot merge"))


def _move(doctype, column, from_case, to_case, names=None, key="name", **where):
	"""Point `doctype` rows (all, or only `names`) from `from_case` to `to_case`; times stay as they are."""
	if names is not None and not names:
		return
	table = frappe.qb.DocType(doctype)
	query = frappe.qb.update(table).set(table[column], to_case).where(table[column] == from_case)
	for field, value in where.items():
		query = query.where(table[field] == value)
	if names is not None:
		query = query.where(table[key].isin(list(names)))
	query.run()


def move_emails_and_notes(from_case, to_case, communications=None, notes=None):
	"""Put emails (all of `from_case`'s when None) and internal notes on `to_case`."""
	_move("Communication", "reference_name", from_case, to_case, communications, reference_doctype="Case")
	_move(
		"Communication Link", "link_name", from_case, to_case, communications, "parent", link_doctype="Case"
	)
	_move(
		"Comment",
		"reference_name",
		from_case,
		to_case,
		notes,
		reference_doctype="Case",
		comment_type="Comment",
	)


def add_people(source, target):
	"""A's assignees and participants gain B's."""
	for user in set(source.get_assigned_users()) - set(target.get_assigned_users()):
		assign_to.add({"assign_to": [user], "doctype": "Case", "name": target.name}, ignore_permissions=True)
	people = [(source.raised_by, source.raised_by_name)] + [
		(row.email_id, row.full_name) for row in source.get("participants") or []
	]
	add_participants(target, people)


def merge_cases(source, target):
	"""Merge case `source` (B) into `target` (A, or where A forwards to); returns A's name."""
	target = resolve_target(source, target)
	# Lock both rows in name order, so two merges of the same pair cannot deadlock.
	for name in sorted((source, target)):
		frappe.db.get_value("Case", name, "name", for_update=True)
	b = frappe.get_doc("Case", source)
	a = frappe.get_doc("Case", target)

	emails = frappe.get_all(
		"Communication", filters={"reference_doctype": "Case", "reference_name": b.name}, pluck="name"
	)
	move_emails_and_notes(b.name, a.name)
	share_files(b.name, a.name)
	frappe.db.set_value("Unprocessed Email", {"case": b.name}, "case", a.name, update_modified=False)
	add_people(b, a)
	a.reload()
	if b.last_customer_update and (
		not a.last_customer_update or b.last_customer_update > a.last_customer_update
	):
		a.db_set("last_customer_update", b.last_customer_update)

	b.merged_into = a.name
	b.status = "Closed"
	b.save(ignore_permissions=True)
	assign_to.close_all_assignments("Case", b.name, ignore_permissions=True)
	b.add_note(
		_("Merged into {0} by {1}; its emails and notes moved there.").format(a.name, frappe.session.user)
	)
	a.add_note(
		_("{0} was merged into this case by {1} ({2} emails moved).").format(
			b.name, frappe.session.user, len(emails)
		)
	)
	return a.name


def split_case(case, communication):
	"""A new case from `communication` onwards: the later emails and their notes move to it."""
	frappe.db.get_value("Case", case, "name", for_update=True)
	old = frappe.get_doc("Case", case)
	rows = frappe.get_all(
		"Communication",
		filters={"reference_doctype": "Case", "reference_name": old.name},
		fields=["name", "communication_date", "creation"],
	)
	by_name = {row.name: row for row in rows}
	if communication not in by_name:
		frappe.throw(_("The email {0} is not on {1}.").format(communication, old.name))
	moving = emails_from([(r.name, (r.communication_date, r.creation)) for r in rows], communication)
	if not moving:
		frappe.throw(_("Splitting from the first email would leave {0} empty.").format(old.name))
	cutoff = by_name[communication].communication_date
	notes = notes_from(
		frappe.get_all(
			"Comment",
			filters={"reference_doctype": "Case", "reference_name": old.name, "comment_type": "Comment"},
			fields=["name", "creation"],
			as_list=True,
		),
		cutoff,
	)

	first = frappe.db.get_value(
		"Communication", communication, ["subject", "communication_date"], as_dict=True
	)
	new = frappe.get_doc(
		{
			"doctype": "Case",
			**old.clone_fields(),
			"status": "Open",
			"opened_on": first.communication_date,
			"last_customer_update": first.communication_date,
		}
	)
	new.insert(ignore_permissions=True)
	move_emails_and_notes(old.name, new.name, moving, notes)
	share_files(old.name, new.name)
	for user in old.get_assigned_users():
		assign_to.add({"assign_to": [user], "doctype": "Case", "name": new.name}, ignore_permissions=True)
	old.add_note(
		_("Split by {0}: {1} emails from {2} onwards moved to {3}.").format(
			frappe.session.user, len(moving), communication, new.name
		)
	)
	new.add_note(_("Split from {0} by {1}.").format(old.name, frappe.session.user))
	return new.name
