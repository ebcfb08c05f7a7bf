# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

import frappe
from frappe import _
from frappe.model.document import Document


class UnprocessedEmail(Document):
	def validate(self):
		# The status follows the queue's actions only (create case, connect, delete, restore: they
		# write it themselves); a form or REST save that changes it would lose or hide mail (F11).
		if not self.is_new() and self.has_value_changed("status"):
			frappe.throw(
				_("The status of an Unprocessed Email changes only through its actions."),
				frappe.PermissionError,
			)


def on_doctype_update():
	# The queue per mailbox: the list's counts, the dashboard chart and the aging report read the
	# waiting mail of one or a few mailboxes (status, then email_account) from the index alone.
	frappe.db.add_index("Unprocessed Email", ["status", "email_account"])
