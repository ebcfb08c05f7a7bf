"""Install/migrate step for hard mail (issue 20): size-limit defaults, Case Managers read Unhandled Email."""

import frappe
from frappe.permissions import add_permission

LIMIT_DEFAULTS = {"max_attachment_mb": 10, "max_mail_mb": 25}


def setup():
	set_limit_defaults()
	grant_unhandled_email_read()


def set_limit_defaults():
	"""A Single keeps no default for a field added after it was first saved: write it once."""
	for field, value in LIMIT_DEFAULTS.items():
		if not frappe.db.exists("Singles", {"doctype": "Case Threads Settings", "field": field}):
			frappe.db.set_single_value("Case Threads Settings", field, value)


def grant_unhandled_email_read():
	"""Read only; which Unhandled Emails (the app's mailboxes) is case_threads.mail.unhandled's hook."""
	if not frappe.db.exists(
		"Custom DocPerm", {"parent": "Unhandled Email", "role": "Case Manager", "permlevel": 0}
	):
		# Frappe copies the standard rules (System Manager) first, then adds this one.
		add_permission("Unhandled Email", "Case Manager", 0, "read")
	frappe.clear_cache(doctype="Unhandled Email")
