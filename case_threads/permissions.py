"""Who sees which Unprocessed Email (F11): agents see the mailboxes they belong to."""

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
