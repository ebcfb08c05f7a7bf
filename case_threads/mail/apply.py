"""Carries out a decided Action (case_threads.core.Action) on the database.

Called inside the Communication's insert, so everything here commits or rolls back with the email.
"""

from dataclasses import replace

import frappe
from frappe import _
from frappe.desk.doctype.notification_log.notification_log import enqueue_create_notification
from frappe.desk.form import assign_to
from frappe.utils import now_datetime

from case_threads.core import Outcome, lifecycle_outcome, remove_subject_tag
from case_threads.mail.acknowledge import acknowledge_new_case
from case_threads.mail.evidence import newest_case_doc
from case_threads.mail.participants import add_participants, record_from_email
from case_threads.mail.shared_files import share_files
from case_threads.settings import get_settings, tag_format
from case_threads.sla import relevance_values

# Case.subject is Data(1000); a longer subject is kept whole on the email itself.
MAX_SUBJECT = 1000

# Communication medium → Case channel (F3).
CHANNELS = {"Email": "Email", "Chat": "Chat", "Phone": "Phone", "Other": "Web"}


# Outcomes that depend on the case's status at the moment the email is applied.
STATUS_OUTCOMES = {Outcome.ATTACH, Outcome.REOPEN, Outcome.CLONE}


def apply_action(communication, message, action):
	"""Apply `action` for the received `communication`; returns the Case name or None."""
	if action.outcome in STATUS_OUTCOMES:
		# Lock the case (and its clones) and decide again on what is there now: a reply processed at
		# the same time may have reopened or cloned it. A case the evidence read FOR UPDATE already
		# (the Message-ID match of a reply: evidence.gather_candidates) is locked and current as it is.
		locked = communication.flags.get("case_threads_locked") or {}
		case = locked.get(action.case) or newest_case_doc(action.case)
		outcome = lifecycle_outcome(case.status, action.message_class, False)
		action = replace(action, case=case.name, outcome=outcome)
		return HANDLERS[action.outcome](communication, message, action, case)
	return HANDLERS[action.outcome](communication, message, action)


# Handlers of STATUS_OUTCOMES get the case as read FOR UPDATE: under REPEATABLE READ a plain read
# would return the snapshot from before a concurrent reply committed (a missing clone, a stale status).


def _unprocessed(communication, message, action):
	park(communication, action.reason)


def _new_case(communication, message, action):
	defaults = dict(action.route.defaults) if action.route else {}
	if action.route:
		defaults["email_route"] = action.route.name  # a policy may be for one route (F23)
	subject = remove_subject_tag(message.subject or communication.subject, tag_format()).strip()
	if action.route and action.route.email_account:
		defaults["email_account"] = action.route.email_account
	case = new_case_from_email(communication, subject, defaults)
	acknowledge_new_case(case, communication, action)
	return case.name


def new_case_from_email(communication, subject=None, defaults=None):
	"""A Case raised by the sender of `communication`, linked to it (F3, F10)."""
	defaults = dict(defaults or {})
	assignment_rule = defaults.pop("assignment_rule", None)
	# The mailbox that received it, else the route's (F20).
	route_account = defaults.pop("email_account", None)
	email_account = communication.email_account or route_account
	case = frappe.get_doc(
		{
			"doctype": "Case",
			"subject": (subject or communication.subject or _("No Subject"))[:MAX_SUBJECT],
			"raised_by": communication.sender,
			"raised_by_name": communication.sender_full_name,
			"contact": contact_for(communication.sender),
			"channel": CHANNELS.get(communication.communication_medium, "Email"),
			"last_customer_update": communication.communication_date,
			"email_account": email_account,
			**{key: value for key, value in defaults.items() if value},
		}
	)
	record_from_email(case, communication)
	case.insert(ignore_permissions=True)
	link(communication, case.name, case)
	hold_in_process_cache(case)
	if assignment_rule:
		frappe.get_cached_doc("Assignment Rule", assignment_rule).do_assignment(case)
	return case


def _attach_silently(communication, message, action):
	link(communication, action.case)
	return action.case


def _attach(communication, message, action, case):
	link(communication, case.name, case)
	if case.status == "Open":
		# Nothing to track: a plain update (no reload for before/after hooks) keeps the common reply
		# cheap; the row is already locked by apply_action. `modified` moves: the "updated" sort sees it.
		case.last_customer_update = communication.communication_date
		values = {"last_customer_update": case.last_customer_update, **relevance_values(case)}
		values.update(modified=now_datetime(), modified_by=frappe.session.user)
		frappe.db.set_value("Case", case.name, values, update_modified=False)
		case.update(values)  # the document in hand is the row again
	else:
		# Replied → Open is a status change: save, so that it shows on the timeline (Version).
		case.last_customer_update = communication.communication_date
		case.status = "Open"
		case.save(ignore_permissions=True)
	hold_in_process_cache(case)
	after_customer_email(case, communication)
	return case.name


def hold_in_process_cache(case):
	"""Frappe's `_comments` update for this email (Communication.on_update, after this hook) asks the
	cached Case for its route: it finds the case held here (locked or just made, and written) instead
	of loading it again, 2 statements a new mail or a reply. This process's cache only, never Redis:
	any later write of the case (Frappe's set_value or save; assign_to in after_customer_email)
	clears it, so does Frappe's after-commit clear of the write above, and inbound.after_insert
	clears it when the email rolls back to its savepoint."""
	frappe.local.cache[frappe.cache.make_key(frappe.get_document_cache_key("Case", case.name))] = case


def _reopen(communication, message, action, case):
	link(communication, case.name, case)
	case.status = "Open"
	case.reopen_count = (case.reopen_count or 0) + 1
	case.last_customer_update = communication.communication_date
	case.save(ignore_permissions=True)
	case.add_note(_("Reopened by a reply from {0}.").format(communication.sender))
	after_customer_email(case, communication)
	return case.name


def _clone(communication, message, action, original):
	# apply_action holds the row lock: a second reply to this closed case waits, then finds the clone.
	clone = clone_case(original)
	link(communication, clone.name, clone)
	original.add_note(
		_("A reply from {0} arrived after closing; continued in {1}.").format(
			communication.sender, clone.name
		)
	)
	after_customer_email(clone, communication)
	return clone.name


def clone_case(original):
	"""A new open case with the original's fields, internal notes and assignees (F8)."""
	clone = frappe.get_doc(
		{
			"doctype": "Case",
			**original.clone_fields(),
			"status": "Open",
			"cloned_from": original.name,
			"last_customer_update": now_datetime(),
			"last_worked_by": original.last_worked_by,
		}
	)
	clone.insert(ignore_permissions=True)
	for note in frappe.get_all(
		"Comment",
		filters={"reference_doctype": "Case", "reference_name": original.name, "comment_type": "Comment"},
		fields=["content", "comment_email", "comment_by", "owner", "creation"],
		order_by="creation asc",
	):
		copy = frappe.get_doc(
			{
				"doctype": "Comment",
				"comment_type": "Comment",
				"reference_doctype": "Case",
				"reference_name": clone.name,
				"content": note.content,
				"comment_email": note.comment_email,
				"comment_by": note.comment_by,
			}
		).insert(ignore_permissions=True)
		# Insert stamps the current user and time: the copy keeps its author and when it was written.
		author = {"owner": note.owner, "creation": note.creation, "modified": note.creation}
		frappe.db.set_value("Comment", copy.name, author, update_modified=False)
	share_files(original.name, clone.name, communications_of(original.name))
	for user in original.get_assigned_users():
		assign_to.add({"assign_to": [user], "doctype": "Case", "name": clone.name}, ignore_permissions=True)
	add_participants(clone, [(row.email_id, row.full_name) for row in original.get("participants") or []])
	original.db_set("cloned_to", clone.name)
	# assign_to.add wrote the clone's assignees to the database, not to this document.
	clone._assign = frappe.db.get_value("Case", clone.name, "_assign")
	clone.add_note(_("Continues the closed case {0}.").format(original.name))
	return clone


HANDLERS = {
	Outcome.UNPROCESSED: _unprocessed,
	Outcome.NEW_CASE: _new_case,
	Outcome.ATTACH_SILENTLY: _attach_silently,
	Outcome.ATTACH: _attach,
	Outcome.REOPEN: _reopen,
	Outcome.CLONE: _clone,
}


def link(communication, case_name, case=None):
	"""Put the mid-insert `communication` on the case; `case` is its document when already loaded."""
	values = {"reference_doctype": "Case", "reference_name": case_name}
	communication.update(values)
	# Frappe reloads and saves the Communication right after its insert, so a plain update here.
	frappe.db.set_value("Communication", communication.name, values, update_modified=False)
	if case:
		# Frappe's Communication.on_update (twice: insert, then save) would load the Case again.
		communication.parent_doc = case


def communications_of(case_name):
	return frappe.get_all(
		"Communication", filters={"reference_doctype": "Case", "reference_name": case_name}, pluck="name"
	)


def open_assignees(case):
	"""Users with an open assignment on `case`, from the `_assign` that Frappe keeps on the row
	(read with the case, locked; no ToDo query on the hot path)."""
	return set(frappe.parse_json(case.get("_assign") or "[]") or [])


def after_customer_email(case, communication):
	"""Participants (F21), sticky agent (F6) and the assignee's notification (F14)."""
	record_from_email(case, communication)
	settings = get_settings()
	assignees = open_assignees(case)
	sticky = case.last_worked_by
	if (
		settings.sticky_agent
		and sticky
		and sticky not in assignees
		and frappe.db.get_value("User", sticky, "enabled")
	):
		assign_to.add({"assign_to": [sticky], "doctype": "Case", "name": case.name}, ignore_permissions=True)
		assignees.add(sticky)
	if settings.notify_assignee and assignees:
		enqueue_create_notification(
			list(assignees),
			{
				"type": "Alert",
				"document_type": "Case",
				"document_name": case.name,
				"subject": _("New email on {0} from {1}: {2}").format(
					case.name, communication.sender, communication.subject
				),
				"from_user": frappe.session.user,
				"email_content": communication.content,
			},
		)
	# Open forms of the case show that newer email arrived than the one being answered (F14).
	frappe.publish_realtime(
		"case_threads_new_email",
		{"case": case.name, "communication": communication.name},
		doctype="Case",
		docname=case.name,
		after_commit=True,
	)


# Why an email waits (core reasons and message classes) → the Unprocessed Email's Reason.
REASONS = {
	"no_route": "No Route",
	"only_bcc": "Only Bcc",
	"auto_reply": "Auto-Reply",
	"bounce": "Bounce",
	"bulk": "Bulk",
	"error": "Error",
	"spam": "Spam",
	"disconnected": "Disconnected",
}


def park(communication, reason, error=None):
	"""Queue the email for a person to look at (F11)."""
	frappe.get_doc(
		{
			"doctype": "Unprocessed Email",
			"status": "Unprocessed",
			"reason": REASONS[reason],
			"error": error,
			"subject": (communication.subject or "")[:MAX_SUBJECT],
			"sender": communication.sender,
			"email_account": communication.email_account,
			"mailbox_address": communication.email_account
			and frappe.db.get_value("Email Account", communication.email_account, "email_id"),
			"received_on": communication.communication_date,
			"communication": communication.name,
		}
	).insert(ignore_permissions=True)


def contact_for(address):
	return address and frappe.db.get_value("Contact Email", {"email_id": address}, "parent")
