"""Whitelisted methods for Frappe's Unhandled Email of the app's mailboxes (issue 20): each checks
the caller's rights, then calls case_threads.mail.unhandled."""

import frappe
from frappe import _

from case_threads.mail import unhandled


def _check_manager():
	if not unhandled.is_manager():
		frappe.throw(_("Only a Case Manager or a System Manager may do this."), frappe.PermissionError)


@frappe.whitelist()
def unhandled_emails():
	"""Unhandled Emails of the app's mailboxes: reason, sender and subject parsed from the raw."""
	_check_manager()
	return unhandled.summaries()


@frappe.whitelist(methods=["POST"])
def retry_unhandled_email(name):
	"""Run the raw message through the receive path again; the Unhandled Email goes once it worked."""
	_check_manager()
	doc = frappe.get_doc("Unhandled Email", name)
	frappe.has_permission("Unhandled Email", "read", doc, throw=True)
	if doc.email_account not in unhandled.app_mailboxes():
		frappe.throw(_("{0} is not from a mailbox of Case Threads.").format(name), frappe.PermissionError)
	try:
		communication = unhandled.retry(name)
	except unhandled.RetryFailed as e:
		frappe.throw(_("Retry failed: {0}").format(frappe.utils.escape_html(str(e))), title=_("Retry failed"))
	case = communication.reference_name if communication.reference_doctype == "Case" else None
	unprocessed = frappe.db.get_value("Unprocessed Email", {"communication": communication.name})
	if case:
		message = _("Received again: the email is on {0}.").format(case)
	elif unprocessed:
		message = _("Received again: the email waits as {0}.").format(unprocessed)
	else:
		message = _("Received again as {0}.").format(communication.name)
	return {"communication": communication.name, "case": case, "unprocessed": unprocessed, "message": message}
