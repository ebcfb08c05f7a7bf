# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import frappe
from frappe import _
from frappe.model.document import Document

from case_threads.sla import as_policy, clear_policy_cache


class CaseSLAPolicy(Document):
	def validate(self):
		if self.timezone:
			try:
				ZoneInfo(self.timezone)
			except (ZoneInfoNotFoundError, ValueError):
				frappe.throw(_("{0} is not a known timezone.").format(self.timezone))
		if self.is_default and frappe.db.exists(
			"Case SLA Policy", {"is_default": 1, "name": ["!=", self.name or ""]}
		):
			frappe.throw(_("There is already a default service level policy."))
		priorities = [row.priority or "" for row in self.priorities]
		if len(priorities) != len(set(priorities)):
			frappe.throw(_("Each priority may have only one row of response and resolution times."))
		try:
			as_policy(self)
		except ValueError as e:
			frappe.throw(_("The working hours are not valid: {0}").format(e))

	def on_change(self):
		clear_policy_cache()

	def on_trash(self):
		clear_policy_cache()
