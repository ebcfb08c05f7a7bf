# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

import frappe
from frappe import _
from frappe.model.document import Document


class CaseThreadsSettings(Document):
	def validate(self):
		if "{token}" not in (self.subject_tag_format or ""):
			frappe.throw(_("The Subject Tag Format must contain {token}."))
