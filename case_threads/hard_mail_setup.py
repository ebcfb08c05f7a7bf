"""Install/migrate step for hard mail (issue 20): Case Managers read Unhandled Email."""

import frappe
from frappe.permissions import add_permission


def setup():
	grant_unhandled_email_read()


def grant_unhandled_email_read():
	"""Read only; which Unhandled Emails (the app's mailboxes) is case_threads.mail.unhandled's hook."""
	if not frappe.db.exists(
		"Custom DocPerm", {"parent": "Unhandled Email", "role": "Case Manager", "permlevel": 0}
	):
		# Frappe copies the standard rules (System Manager) first, then adds this one.
		add_permission("Unhandled Email", "Case Manager", 0, "read")
	frappe.clear_cache(doctype="Unhandled Email")
