"""Unhandled Email (Frappe's own doctype) in a Case Manager's sight, and Retry (issue 20).

An email kept as Unhandled Email (email_account.keep_unhandled, or Frappe's own handle_bad_emails)
is listed, with its sender and subject parsed from the raw message, for the app's mailboxes; Retry
runs the raw message through the receive path again and removes the Unhandled Email once that
worked. Whitelisted in case_threads.unhandled_api; the permission hooks are here.
"""

import frappe
from frappe import _
from frappe.email.receive import InboundMail
from frappe.query_builder.functions import Substring

from case_threads.core import parse_message
from case_threads.mail.email_account import _publishing_class

MANAGERS = {"Case Manager", "System Manager"}
# Enough of the raw message for its headers; the bodies stay in the database.
HEAD_CHARS = 16000
LIST_LIMIT = 200


def is_manager(user=None):
	user = user or frappe.session.user
	return user == "Administrator" or bool(MANAGERS & set(frappe.get_roles(user)))


def sees_every_mailbox(user):
	return user == "Administrator" or "System Manager" in frappe.get_roles(user)


def app_mailboxes():
	"""Email Accounts whose received mail the app decides for: no append_to, or Case."""
	return frappe.get_all(
		"Email Account",
		or_filters=[["append_to", "is", "not set"], ["append_to", "=", "Case"]],
		pluck="name",
	)


def unhandled_email_query(user=None):
	"""Case Managers read the Unhandled Emails of the app's mailboxes (System Managers: all)."""
	user = user or frappe.session.user
	if sees_every_mailbox(user):
		return ""
	mailboxes = [frappe.db.escape(m) for m in app_mailboxes()]
	if not mailboxes:
		return "1=0"
	return f"`tabUnhandled Email`.`email_account` in ({', '.join(mailboxes)})"


def unhandled_email_has_permission(doc, ptype=None, user=None, debug=False):
	user = user or frappe.session.user
	if sees_every_mailbox(user):
		return None  # Frappe's own rules
	return bool(doc.email_account) and doc.email_account in app_mailboxes()


def summaries(limit=LIST_LIMIT):
	"""The Unhandled Emails of the app's mailboxes, newest first, with sender and subject."""
	mailboxes = app_mailboxes()
	if not mailboxes:
		return []
	table = frappe.qb.DocType("Unhandled Email")
	rows = (
		frappe.qb.from_(table)
		.select(
			table.name,
			table.email_account,
			table.creation,
			table.reason,
			Substring(table.raw, 1, HEAD_CHARS).as_("head"),
		)
		.where(table.email_account.isin(mailboxes))
		.orderby(table.creation, order=frappe.qb.desc)
		.limit(limit)
		.run(as_dict=True)
	)
	return [summary(row) for row in rows]


def summary(row):
	message = parse_message(_headers_only(row.head or ""))
	return {
		"name": row.name,
		"email_account": row.email_account,
		"creation": row.creation,
		"sender": message.from_addr,
		"sender_name": message.from_name,
		"subject": message.subject,
		"message_id": message.message_id,
		"reason": short_reason(row.reason),
	}


def _headers_only(head):
	end = min((i for i in (head.find("\r\n\r\n"), head.find("\n\n")) if i >= 0), default=len(head))
	return head[:end] + "\n\n"


def short_reason(reason):
	"""The last line of a traceback says what failed."""
	lines = [line.strip() for line in (reason or "").strip().splitlines() if line.strip()]
	return (lines[-1] if lines else "")[:500]


class RetryFailed(frappe.ValidationError):
	pass


def retry(name):
	"""Receive the raw message of Unhandled Email `name` again; remove it once that worked.

	Returns the Communication. On failure the Unhandled Email stays, with the new reason, and
	RetryFailed is raised.
	"""
	doc = frappe.get_doc("Unhandled Email", name)
	account = frappe.get_doc("Email Account", doc.email_account)
	try:
		mail = _publishing_class(InboundMail)(doc.raw or "", account, doc.uid, None, None)
		mail.flags.case_threads_retry = True
		communication = mail.process()
		frappe.db.commit()
	except Exception:
		# process() rolled back; keep why it failed this time.
		traceback = frappe.get_traceback()
		frappe.db.rollback()
		frappe.db.set_value("Unhandled Email", name, "reason", traceback)
		frappe.db.commit()
		raise RetryFailed(short_reason(traceback)) from None
	if communication and mail.flags.is_new_communication:
		# What Email Account.receive() does after each new email.
		if account.enable_auto_reply:
			account.send_auto_reply(communication, mail)
		communication.send_email(is_inbound_mail_communcation=True)
	frappe.delete_doc("Unhandled Email", name, ignore_permissions=True, force=True)
	frappe.db.commit()
	return communication
