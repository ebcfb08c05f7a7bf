"""An inbound email taken off its case goes back to the Unprocessed queue (F9, F11: nothing is lost).

Called by "Disconnect from Case" (case_threads.api) and when a case is deleted (Case.on_trash).
"""

import frappe

from case_threads.mail.apply import park


def is_inbound_email(communication):
	return (
		communication.communication_type == "Communication"
		and communication.sent_or_received == "Received"
		and communication.communication_medium == "Email"
	)


def return_to_queue(communication):
	"""Re-open the email's earlier Unprocessed Email, or park it anew, with reason Disconnected."""
	if not is_inbound_email(communication):
		return None
	earlier = frappe.get_all(
		"Unprocessed Email",
		filters={"communication": communication.name},
		order_by="creation desc",
		pluck="name",
		limit=1,
	)
	if earlier:
		doc = frappe.get_doc("Unprocessed Email", earlier[0])
		doc.db_set({"status": "Unprocessed", "reason": "Disconnected", "case": None})
		return doc.name
	park(communication, "disconnected")
	return frappe.db.get_value("Unprocessed Email", {"communication": communication.name})


def requeue_case_emails(case_name):
	"""Before a case is deleted: its inbound emails wait in the queue again (Frappe would only clear
	their reference and leave them in no place), and no Unprocessed Email keeps linking to it."""
	for name in frappe.get_all(
		"Communication",
		filters={"reference_doctype": "Case", "reference_name": case_name},
		pluck="name",
	):
		communication = frappe.get_doc("Communication", name)
		values = {"reference_doctype": None, "reference_name": None}
		communication.db_set(values, update_modified=False)
		return_to_queue(communication)
	frappe.db.set_value("Unprocessed Email", {"case": case_name}, "case", None, update_modified=False)
