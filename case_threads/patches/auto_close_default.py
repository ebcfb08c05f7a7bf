"""Sites made before auto-close (F25) have no value for the new setting: give them its default, 7 days.

(A Single's new field gets no value on migrate, and no row reads as 0, which would mean "off".)
"""

import frappe


def execute():
	stored = frappe.db.sql(
		"""select 1 from `tabSingles`
		where doctype = 'Case Threads Settings' and field = 'auto_close_resolved_after_days'"""
	)
	if not stored:
		frappe.db.set_single_value("Case Threads Settings", "auto_close_resolved_after_days", 7)
