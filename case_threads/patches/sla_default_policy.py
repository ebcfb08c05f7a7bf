"""Service levels (F23) on an existing site: the shipped default policy, and no stale SLA Due.

Case.sla_due used to be a plain field nobody set; it is now the due time the service-level clock
runs toward. A value typed by hand on a case without an agreement is cleared (no clock keeps it).
Existing cases get no agreement retroactively (that would fail them all at once); new cases do.
"""

import frappe

from case_threads.sla import ensure_default_policy


def execute():
	ensure_default_policy()
	frappe.db.sql(
		"update `tabCase` set sla_due=null where sla_due is not null and ifnull(service_level_agreement, '')=''"
	)
