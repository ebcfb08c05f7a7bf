# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import now_datetime

from case_threads import sla
from case_threads.core import new_token
from case_threads.settings import get_settings

# Copying a case (F8) leaves these as they are on a new document.
CLONE_SKIP_FIELDS = {"name", "owner", "creation", "modified", "modified_by", "idx", "docstatus", "_assign"}
# ...and a clone or split starts afresh on these: how the old case ended and its service-level state
# (the SLA fields are skipped where they exist).
NOT_CARRIED_OVER = {
	"disposition",
	"resolved_on",
	"closed_on",
	"merged_into",
	"service_level_agreement",
	"response_by",
	"resolution_by",
	"agreement_status",
	"on_hold_since",
	"total_hold_time",
	"first_responded_on",
	"first_response_time",
	"resolution_time",
}


class Case(Document):
	def before_insert(self):
		# Made before any outbound email can exist (F4); the unique index guards collisions.
		if not self.thread_token:
			self.thread_token = new_token()
		if not self.opened_on:
			self.opened_on = now_datetime()
		sla.on_case_insert(self)

	def onload(self):
		# The composer preselects the case's mailbox and proposes its participants (F20, F21).
		from case_threads.mail.participants import composer_defaults

		self.set_onload("case_threads_composer", composer_defaults(self))

	def validate(self):
		self.stamp_status_times()
		self.check_disposition()
		sla.on_case_validate(self)
		# The working time to the first answer / resolution, with the times it is measured between.
		self.update(sla.durations(self))

	def stamp_status_times(self):
		if not self.has_value_changed("status"):
			return
		if self.status == "Resolved":
			self.resolved_on = now_datetime()
		elif self.status == "Closed":
			self.closed_on = now_datetime()
			self.resolved_on = self.resolved_on or self.closed_on
		elif self.status == "Open":
			self.resolved_on = self.closed_on = None

	def check_disposition(self):
		if (
			self.disposition
			and self.has_value_changed("disposition")
			and not frappe.db.get_value("Case Disposition", self.disposition, "enabled")
		):
			frappe.throw(_("The disposition {0} is disabled.").format(self.disposition))
		# A merged case closes because its work continues elsewhere (F24), not with a closure reason;
		# the auto-close job (case_threads.autoclose) moves cases without one and says so on the timeline.
		if (
			self.disposition
			or self.merged_into
			or not self.has_value_changed("status")
			or self.flags.auto_status
		):
			return
		settings = get_settings()
		required = (self.status == "Resolved" and settings.require_disposition_on_resolve) or (
			self.status == "Closed" and settings.require_disposition_on_close
		)
		if required:
			frappe.throw(
				_("Please choose a Disposition before setting the case to {0}.").format(_(self.status)),
				title=_("Disposition required"),
			)

	def on_communication_update(self, communication):
		"""Frappe calls this instead of its generic handling for every email on this case.

		Received mail is handled by case_threads.mail.apply (which knows reopen/clone); here only an
		agent's outbound email matters: the case now waits on the customer.
		"""
		if communication.sent_or_received != "Sent" or communication.communication_medium != "Email":
			return
		if communication.communication_type != "Communication":
			return  # the app's own automatic mail (an acknowledgement) is not an agent's reply
		values = {"last_worked_by": communication.owner}
		if self.status == "Open":
			values["status"] = "Replied"
			# db_set writes no Version: record the status change for the timeline like a save would.
			frappe.get_doc(
				{
					"doctype": "Version",
					"ref_doctype": self.doctype,
					"docname": self.name,
					"data": frappe.as_json(
						{
							"changed": [["status", self.status, "Replied"]],
							"added": [],
							"removed": [],
							"row_changed": [],
						}
					),
				}
			).insert(ignore_permissions=True)
		if not self.first_responded_on:
			values["first_responded_on"] = communication.creation
		values.update(sla.on_agent_reply(self, communication.creation, values.get("status", self.status)))
		if "first_responded_on" in values:
			values["first_response_time"] = sla.working_seconds(
				self.opened_on or self.creation, values["first_responded_on"], self
			)
		self.db_set(values, notify=True)

	def on_trash(self):
		# Frappe would only clear the reference of the case's emails: they go back to the queue (F11).
		from case_threads.mail.requeue import requeue_case_emails

		requeue_case_emails(self.name)

	def add_note(self, text):
		"""A line on the timeline that says what the app did and why."""
		self.add_comment("Info", text)

	def clone_fields(self):
		"""Every field of this case, custom fields included, fit for a new case (F8)."""
		no_copy = {df.fieldname for df in self.meta.fields if df.no_copy}
		return {
			key: value
			for key, value in self.as_dict(no_default_fields=False).items()
			if key not in CLONE_SKIP_FIELDS | NOT_CARRIED_OVER
			and key not in no_copy
			and not isinstance(value, list)
		}


def on_doctype_update():
	# The breach job's one query: running agreements whose due time has passed (case_threads.sla).
	frappe.db.add_index("Case", ["agreement_status", "sla_due"])
	# The auto-close job's query (case_threads.autoclose) and the dashboard's status counts.
	frappe.db.add_index("Case", ["status", "last_customer_update"])
	# The SLA chart's weeks (case_threads.dashboard.sla_results_weekly reads a quarter of a year's
	# cases): covering, with the modified that frappe.get_list orders by, it reads this index alone.
	frappe.db.add_index("Case", ["agreement_status", "opened_on", "modified"])
	# The First Response Time chart and card read the stored durations of a quarter of a year's first
	# answers (case_threads.dashboard): covering, else MariaDB reads the whole table at 250k cases.
	frappe.db.add_index("Case", ["first_responded_on", "first_response_time"])
	# The Case Response Times report reads a month of cases' figures (case_threads.reports.case_times):
	# covering, else MariaDB reads the whole table at 250k cases (the row lookups cost more); then
	# its cloned cases by cloned_to (merged_into has its own index).
	frappe.db.add_index(
		"Case",
		[
			"opened_on", "agreement_status", "reopen_count", "first_response_time", "resolution_time",
			"last_worked_by", "queue", "email_route",
		],
		"case_response_times_index",
	)  # fmt: skip
	frappe.db.add_index("Case", ["cloned_to"])
	# A contact's case history, newest first (case_threads.api.case_history, the Case form).
	frappe.db.add_index("Case", ["contact", "creation"])
	# Words of a title (case_threads.search: the Link search and the Connect dialog's typed search),
	# which first reads the newest cases by creation there (and by modified, indexed above).
	from case_threads.search import ensure_fulltext_index  # not at import: only migrate needs it

	ensure_fulltext_index()
	frappe.db.add_index("Case", ["creation"])
	# Frappe's own tables, read by the app's desk queries at a year of mail (benchmarks/year.py):
	# the Case form's unlinked emails look Communications up by sender...
	frappe.db.add_index("Communication", ["sender(140)"])
	# ...and Frappe matches every inbound address to a Contact through Contact Email.email_id.
	frappe.db.add_index("Contact Email", ["email_id(140)"])
