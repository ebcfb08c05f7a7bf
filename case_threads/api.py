"""Whitelisted methods (F9, F10, F11, F16): each checks the caller's rights, then calls the shell."""

import frappe
from frappe import _
from frappe.utils import cint

from case_threads.case_threads.doctype.email_route.email_route import enabled_routes
from case_threads.core import (
	Action,
	MessageClass,
	Outcome,
	lifecycle_outcome,
	match_route,
	matches_per_address,
	parse_message,
	remove_subject_tag,
	subjects_match,
)
from case_threads.core.parsing import Message
from case_threads.mail.apply import REASONS, apply_action, new_case_from_email
from case_threads.mail.evidence import is_internal_user, newest_descendant
from case_threads.mail.inbound import message_from_communication
from case_threads.mail.requeue import return_to_queue
from case_threads.search import find_cases
from case_threads.settings import tag_format

CASE_FIELDS_FROM_DIALOG = ("queue", "priority", "case_type", "customer")


def _communication(name, ptype="read"):
	doc = frappe.get_doc("Communication", name)
	doc.check_permission(ptype)
	return doc


def _unprocessed_for(communication_name):
	"""The Unprocessed Email still holding this email (waiting, or deleted as spam), if any."""
	name = frappe.db.get_value(
		"Unprocessed Email",
		{"communication": communication_name, "status": ("in", ("Unprocessed", "Deleted"))},
	)
	return name and frappe.get_doc("Unprocessed Email", name)


def _mark_processed(communication_name, case_name):
	if unprocessed := _unprocessed_for(communication_name):
		unprocessed.db_set({"status": "Processed", "case": case_name})


def _note(case_name, text):
	frappe.get_doc("Case", case_name).add_note(text)


@frappe.whitelist()
def create_case_from_email(communication, subject=None, **values):
	"""Create Case from an email (F3, F9)."""
	comm = _communication(communication)
	frappe.has_permission("Case", "create", throw=True)
	return _create_case(comm, subject, values)


def _create_case(comm, subject, values):
	if comm.reference_doctype == "Case" and comm.reference_name:
		frappe.throw(_("This email is already connected to {0}.").format(comm.reference_name))
	defaults = {key: values.get(key) for key in CASE_FIELDS_FROM_DIALOG if values.get(key)}
	case = new_case_from_email(comm, subject, defaults)
	case.add_note(_("Created from the email {0} by {1}.").format(comm.name, frappe.session.user))
	_mark_processed(comm.name, case.name)
	return {"case": case.name, "message": _("Case {0} created.").format(case.name)}


@frappe.whitelist()
def connect_to_case(communication, case, confirm_clone=0):
	"""Connect an email to a case: reopens a Resolved case, continues a Closed one in a clone (F9)."""
	return _connect(_communication(communication), case, confirm_clone)


def _connect(comm, case, confirm_clone):
	target = frappe.get_doc("Case", case)
	target.check_permission("write")
	if target.merged_into:
		# A merged case's mail goes where it was merged (F24).
		target = frappe.get_doc("Case", newest_descendant(target.name).name)
		target.check_permission("write")
	if comm.reference_doctype == "Case" and comm.reference_name == target.name:
		return {
			"case": target.name,
			"message": _("The email is already connected to {0}.").format(target.name),
		}
	if comm.reference_doctype == "Case" and comm.reference_name:
		disconnect_from_case(comm.name)

	from_customer = comm.sent_or_received == "Received" and not is_internal_user(comm.sender)
	outcome = (
		lifecycle_outcome(target.status, MessageClass.HUMAN, False)
		if from_customer
		else Outcome.ATTACH_SILENTLY
	)
	if outcome is Outcome.CLONE and not cint(confirm_clone):
		frappe.throw(
			_("{0} is closed. Connecting this email continues it in a new case; please confirm.").format(
				target.name
			),
			title=_("Case is closed"),
		)
	action = Action(outcome=outcome, case=target.name, message_class=MessageClass.HUMAN)
	result = apply_action(comm, message_from_communication(comm), action)
	_note(result, _("Email {0} connected by {1}.").format(comm.name, frappe.session.user))
	_mark_processed(comm.name, result)
	return {"case": result, "message": _("Email connected to {0}.").format(result)}


@frappe.whitelist()
def disconnect_from_case(communication):
	comm = _communication(communication)
	if comm.reference_doctype != "Case" or not comm.reference_name:
		frappe.throw(_("This email is not connected to a case."))
	case = frappe.get_doc("Case", comm.reference_name)
	case.check_permission("write")
	values = {"reference_doctype": None, "reference_name": None}
	comm.update(values)
	comm.db_set(values, update_modified=False)
	case.add_note(_("Email {0} disconnected by {1}.").format(comm.name, frappe.session.user))
	# An inbound email on no case waits in the queue again, never in no place (F11).
	queued = return_to_queue(comm)
	message = (
		_("Email disconnected from {0}; it waits in the Unprocessed queue as {1}.").format(case.name, queued)
		if queued
		else _("Email disconnected from {0}.").format(case.name)
	)
	return {"case": case.name, "unprocessed": queued, "message": message}


@frappe.whitelist()
def case_history(email=None, contact=None, txt=None, limit=20):
	"""A contact's cases, newest first, searchable by number or title (F9)."""
	fields = ["name", "subject", "status", "creation", "modified", "resolved_on", "closed_on"]
	filters = {}
	or_filters = {}
	if contact:
		filters["contact"] = contact
	elif email:
		filters["raised_by"] = email
	elif txt and txt.strip():
		# Any case, by number or title: indexed lookups, not a read of every case (issue 19).
		return find_cases(txt, fields, order_by="creation", limit=cint(limit) or 20)
	if txt:
		# One contact's cases are few: their own index, then any part of the title or number.
		or_filters = {"name": ("like", f"%{txt}%"), "subject": ("like", f"%{txt}%")}
	return frappe.get_list(
		"Case",
		filters=filters,
		or_filters=or_filters,
		fields=fields,
		order_by="creation desc",
		limit_page_length=cint(limit) or 20,
	)


@frappe.whitelist()
def unlinked_emails(case):
	"""Emails of the case's contact that belong to no case yet (F9, "Connect email" on the Case)."""
	doc = frappe.get_doc("Case", case)
	doc.check_permission("read")
	senders = {doc.raised_by} if doc.raised_by else set()
	if doc.contact:
		senders.update(frappe.get_all("Contact Email", filters={"parent": doc.contact}, pluck="email_id"))
	if not senders:
		return []
	emails = frappe.get_list(
		"Communication",
		filters={"sender": ("in", list(senders)), "communication_type": "Communication"},
		or_filters={"reference_doctype": ("is", "not set"), "reference_name": ("is", "not set")},
		fields=["name", "subject", "sender", "communication_date", "communication_medium"],
		order_by="communication_date desc",
		limit_page_length=50,
	)
	# Emails on the case's own subject (whatever Re:/AW:/Fwd: a mail client put before it) first.
	for row in emails:
		subject = remove_subject_tag(row.subject or "", tag_format())
		row.same_subject = subjects_match(subject, doc.subject or "")
	return sorted(emails, key=lambda row: not row.same_subject)


@frappe.whitelist()
def test_route(address=None, raw=None, email_account=None):
	"""What the routes would do with an address or a pasted raw email (F10)."""
	frappe.has_permission("Email Route", "read", throw=True)
	if not (address or raw):
		frappe.throw(_("Give an address or a raw email."))
	message = parse_message(raw) if raw else Message(to=(address.strip().lower(),))
	routes = enabled_routes()
	match = match_route(message, routes, email_account or None)
	return {
		"route": match.route.name if match.route else None,
		"address": match.address,
		"reason": REASONS.get(match.reason),
		"per_address": {
			a: (r.name if r else None) for a, r in matches_per_address(message, routes, email_account).items()
		},
	}


def _unprocessed(name, ptype="write"):
	doc = frappe.get_doc("Unprocessed Email", name)
	doc.check_permission(ptype)
	if doc.status != "Unprocessed":
		frappe.throw(_("{0} was already {1}.").format(name, _(doc.status).lower()))
	return doc


# The queue's own actions: whoever may work an Unprocessed Email may act on the email it holds,
# and may create a case from it without the right to create cases directly (F11).


@frappe.whitelist()
def unprocessed_create_case(name, subject=None, **values):
	doc = _unprocessed(name)
	return _create_case(frappe.get_doc("Communication", doc.communication), subject, values)


@frappe.whitelist()
def unprocessed_connect(name, case, confirm_clone=0):
	doc = _unprocessed(name)
	return _connect(frappe.get_doc("Communication", doc.communication), case, confirm_clone)


@frappe.whitelist()
def unprocessed_delete(name):
	"""Spam: hidden from the default view, kept for audit (F11)."""
	doc = _unprocessed(name)
	doc.db_set("status", "Deleted")
	return {"message": _("{0} deleted.").format(name)}


@frappe.whitelist()
def unprocessed_restore(name):
	"""Undo a delete: the email waits in the queue again (F11)."""
	doc = frappe.get_doc("Unprocessed Email", name)
	doc.check_permission("write")
	if doc.status != "Deleted":
		frappe.throw(_("Only a deleted email can be restored."))
	doc.db_set("status", "Unprocessed")
	return {"message": _("{0} restored to the queue.").format(name)}


@frappe.whitelist()
def transfer_case(case, agent=None, queue=None):
	"""Hand a case to another agent and/or queue (F13); noted on the timeline."""
	doc = frappe.get_doc("Case", case)
	doc.check_permission("write")
	if not (agent or queue):
		frappe.throw(_("Choose an agent or a queue."))
	if queue:
		doc.queue = queue
		doc.save()
	if agent:
		from frappe.desk.form import assign_to

		assign_to.clear("Case", doc.name)
		assign_to.add({"assign_to": [agent], "doctype": "Case", "name": doc.name})
	# Transfer wins over the sticky agent (F6, F13): the next customer email must not hand the case
	# back to whoever worked it before; a transfer to a queue alone leaves no sticky agent.
	doc.db_set("last_worked_by", agent or None, update_modified=False)
	doc.add_note(
		_("Transferred to {0} by {1}.").format(", ".join(filter(None, (agent, queue))), frappe.session.user)
	)
	return {"case": doc.name, "message": _("Case {0} transferred.").format(doc.name)}


@frappe.whitelist()
def merge_cases(source, target):
	"""Merge case `source` into `target` (F24): needs write on both (and on where `target` forwards)."""
	from case_threads.mail.merge import merge_cases as merge
	from case_threads.mail.merge import resolve_target

	for name in {source, target, resolve_target(source, target)}:
		frappe.get_doc("Case", name).check_permission("write")
	result = merge(source, target)
	return {"case": result, "message": _("{0} merged into {1}.").format(source, result)}


@frappe.whitelist()
def case_emails(case):
	"""The case's emails in time order, for the Split dialog (F24). Whoever may read the case reads
	its timeline; Frappe's list of Communications would show an agent only their mailboxes' mail."""
	frappe.get_doc("Case", case).check_permission("read")
	return frappe.get_all(
		"Communication",
		filters={"reference_doctype": "Case", "reference_name": case, "communication_type": "Communication"},
		fields=["name", "subject", "sender", "communication_date"],
		order_by="communication_date asc, creation asc",
		limit=500,
	)


@frappe.whitelist()
def split_case(case, communication):
	"""A new case from one email of `case` onwards (F24): needs write on the case and create."""
	from case_threads.mail.merge import split_case as split

	frappe.get_doc("Case", case).check_permission("write")
	frappe.has_permission("Case", "create", throw=True)
	result = split(case, communication)
	return {"case": result, "message": _("Split into the new case {0}.").format(result)}
