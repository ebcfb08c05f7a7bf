"""The daily job that closes quiet Resolved cases and resolves quiet Replied ones (F25).

hooks.py scheduler_events "daily" → run() → case_threads.core.autoclose.next_status decides.

Safe to run twice or on two workers at once: candidates are read with one indexed query per status
(Case index status + last_customer_update) in batches, then every case is locked (SELECT … FOR
UPDATE, the same row lock the inbound path takes in apply_action) and decided again on the locked
row. A case that got mail since the job read it is Open again or has a newer last_customer_update,
so it stays; a case another worker already moved is no longer in its old status, so it is moved
once. Each case is committed on its own: one failure is logged and does not stop the others.

Dispositions: a required disposition (Settings → Require Disposition on Close/Resolve) is meant
for agents. The job sets none, moves the case anyway (case.flags.auto_status) and says so in its
timeline note, so that "no disposition" is visible rather than a job that fails every night.
"""

import frappe
from frappe import _
from frappe.utils import get_datetime, now_datetime

from case_threads.core.autoclose import Rules, active_statuses, cutoff, next_status
from case_threads.settings import get_settings

BATCH = 200
# When the case entered the status the job looks at, where the app records it.
ENTERED = {"Resolved": "resolved_on", "Replied": "on_hold_since"}


def rules() -> Rules:
	settings = get_settings()
	return Rules(
		close_after_days=settings.get("auto_close_resolved_after_days") or 0,
		resolve_after_days=settings.get("auto_resolve_replied_after_days") or 0,
	)


def run(now=None):
	"""Scheduler entry point; returns {status moved to: number of cases}."""
	now = get_datetime(now) if now else now_datetime()
	current = rules()
	moved = {}
	for status in active_statuses(current):
		skipped = set()
		while True:
			names = candidate_names(status, now, current, exclude=skipped)
			if not names:
				break
			for name in names:
				new_status = move_case(name, status, now, current)
				if new_status:
					moved[new_status] = moved.get(new_status, 0) + 1
				else:
					skipped.add(name)
	return moved


def candidate_names(status, now, current, exclude=(), limit=BATCH):
	"""Names of cases in `status` that look quiet long enough (decided again under the lock)."""
	limit_at = cutoff(status, now, current)
	if limit_at is None:
		return []
	entered = ENTERED[status]
	# Range on the (status, last_customer_update) index; the entered-status date is checked per row.
	rows = frappe.db.sql(
		f"""select name from `tabCase`
		where status = %(status)s and last_customer_update <= %(cutoff)s
			and (`{entered}` is null or `{entered}` <= %(cutoff)s)
			{"and name not in %(exclude)s" if exclude else ""}
		order by last_customer_update limit %(limit)s""",
		{"status": status, "cutoff": limit_at, "exclude": tuple(exclude), "limit": limit},
	)
	return [row[0] for row in rows]


def move_case(name, status, now, current):
	"""Lock case `name`, decide again, move it; the new status, or None if it stays."""
	try:
		row = frappe.db.sql(
			f"""select status, last_customer_update, `{ENTERED[status]}` from `tabCase`
			where name = %s for update""",
			name,
		)
		if not row:
			frappe.db.rollback()
			return None
		found, last_update, entered = row[0]
		new_status = next_status(found, last_update, entered, now, current) if found == status else None
		if not new_status:
			frappe.db.rollback()
			return None
		case = frappe.get_doc("Case", name)
		case.status = new_status
		case.flags.auto_status = True
		case.save(ignore_permissions=True)
		case.add_note(note(case, status, new_status, current))
		frappe.db.commit()
		return new_status
	except Exception:
		frappe.db.rollback()
		frappe.log_error(
			title=_("Case auto-close failed for {0}").format(name),
			reference_doctype="Case",
			reference_name=name,
		)
		return None


def note(case, old_status, new_status, current):
	days = current.close_after_days if old_status == "Resolved" else current.resolve_after_days
	if new_status == "Closed":
		text = _("Closed automatically: Resolved with no email from the customer for {0} days.").format(days)
	else:
		text = _("Resolved automatically: waiting on the customer with no email for {0} days.").format(days)
	if not case.disposition:
		text += " " + _("No disposition was set.")
	return text
