"""Sites made before loop protection (F22) have no value for its settings: give them their defaults.

(A Single's new field gets no value on migrate, and no row reads as 0 — which the next save of the
settings then stores: a limit of 0 automatic mails per hour would hold back every acknowledgement.
A 0 found now was not chosen by anyone: the fields are new.)
"""

import frappe

DEFAULTS = {"auto_mail_per_hour": 10, "auto_mail_per_day": 40, "bounce_suppression_days": 30}


def execute():
	for field, value in DEFAULTS.items():
		stored = frappe.db.sql(
			"select value from `tabSingles` where doctype = 'Case Threads Settings' and field = %s", field
		)
		if not stored or not frappe.utils.cint(stored[0][0]):
			frappe.db.set_single_value("Case Threads Settings", field, value)
