"""Mail belongs to its mailbox: agents see the Unprocessed Email (F11) and the loose emails of the
mailboxes they belong to; an email on a case is seen through the case (Frappe's own rule)."""

import frappe

SEES_ALL = {"Case Manager", "System Manager", "Administrator"}


def sees_all(user):
	return user == "Administrator" or bool(SEES_ALL & set(frappe.get_roles(user)))


def mailboxes_of(user):
	"""Email Accounts a user belongs to (their User Email rows)."""
	return frappe.get_all("User Email", filters={"parent": user}, pluck="email_account")


def unprocessed_email_query(user=None):
	user = user or frappe.session.user
	if sees_all(user):
		return ""
	mailboxes = [frappe.db.escape(m) for m in mailboxes_of(user) if m]
	if not mailboxes:
		return "1=0"
	return f"`tabUnprocessed Email`.`email_account` in ({', '.join(mailboxes)})"


def unprocessed_email_has_permission(doc, ptype=None, user=None, debug=False):
	user = user or frappe.session.user
	if sees_all(user):
		return True
	return bool(doc.email_account) and doc.email_account in mailboxes_of(user)


# Frappe's own rule for whole mailboxes (its Communication list conditions).
SEES_EVERY_MAILBOX = {"System Manager", "Super Email User"}


def communication_has_permission(doc, ptype=None, user=None, debug=False):
	"""An email on no document stays in its mailbox.

	Frappe limits *lists* of emails to the user's mailboxes, but lets anyone with the role open (and
	so create a case from, or connect) a single email that no document links. None leaves the
	decision to Frappe's own hook, which runs after this one; only a denial is said here.
	"""
	if doc.reference_doctype and doc.reference_name:
		return None
	if doc.communication_medium != "Email" or not doc.email_account:
		return None
	user = user or frappe.session.user
	if user == "Administrator" or doc.owner == user:
		return None
	if SEES_EVERY_MAILBOX & set(frappe.get_roles(user)) or doc.email_account in mailboxes_of(user):
		return None
	return False
