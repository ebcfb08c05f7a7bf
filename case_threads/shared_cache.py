"""Values every process and worker of the site shares through Redis, and how a change clears them."""

import frappe


def forget(key):
	"""Clear a shared value now and again once the change commits: a worker reading the table before
	the commit would otherwise cache the old value until the next change."""
	frappe.cache.delete_value(key)
	frappe.db.after_commit.add(lambda: frappe.cache.delete_value(key))
