"""Acknowledgement of a new case (F22), per Email Route: one mail to the sender, from the case's
mailbox, threaded on the customer's mail, with the case number in the subject, from an Email
Template. Held back (and noted on the case) whenever loop protection says so.

It is a Communication of type "Automated Message" on the case: it shows on the timeline, does not
count as the agent's first response, and carries Auto-Submitted / X-Auto-Response-Suppress
(case_threads.mail.outbound).
"""

import frappe
from frappe import _

from case_threads.core.autosend import should_acknowledge
from case_threads.mail.autosend import AUTOMATED, autosend_reason, note_held_back

SAVEPOINT = "case_threads_acknowledge"

# Shipped Email Templates (created on install/migrate when missing; an admin may edit them).
TEMPLATES = {
	"Case Acknowledgement": (
		"We received your request {{ name }}: {{ subject }}",
		"<p>Hello {{ raised_by_name or raised_by }},</p>"
		"<p>Thank you for writing to us. Your request has been registered as <b>{{ name }}</b> "
		"and we will answer as soon as possible.</p>"
		"<p>Please keep {{ name }} in the subject when you write to us about it.</p>",
	),
	"Case Acknowledgement (Español)": (
		"Hemos recibido su solicitud {{ name }}: {{ subject }}",
		"<p>Hola {{ raised_by_name or raised_by }}:</p>"
		"<p>Gracias por escribirnos. Su solicitud ha quedado registrada como <b>{{ name }}</b> "
		"y le responderemos lo antes posible.</p>"
		"<p>Conserve {{ name }} en el asunto cuando nos escriba sobre ella.</p>",
	),
	"Case Acknowledgement (Français)": (
		"Nous avons bien reçu votre demande {{ name }} : {{ subject }}",
		"<p>Bonjour {{ raised_by_name or raised_by }},</p>"
		"<p>Merci de nous avoir écrit. Votre demande est enregistrée sous le numéro <b>{{ name }}</b> "
		"et nous vous répondrons dans les meilleurs délais.</p>"
		"<p>Merci de garder {{ name }} dans l'objet lorsque vous nous écrivez à son sujet.</p>",
	),
}
DEFAULT_TEMPLATE = "Case Acknowledgement"


def install_templates():
	for name, (subject, response) in TEMPLATES.items():
		if not frappe.db.exists("Email Template", name):
			frappe.get_doc(
				{
					"doctype": "Email Template",
					"name": name,
					"subject": subject,
					"use_html": 1,
					"response_html": response,
				}
			).insert(ignore_permissions=True)


def acknowledge_new_case(case, communication, action):
	"""Called once a route opened `case` for `communication`. Never raises: a failed
	acknowledgement is logged and noted, the case stays."""
	route = action.route  # from the cached routes (enabled_routes), with its acknowledgement settings
	if not route or not should_acknowledge(action.outcome, route.acknowledge):
		return
	frappe.db.savepoint(SAVEPOINT)
	try:
		reason = autosend_reason(case.raised_by, action.message_class)
		if reason:
			note_held_back(case, _("Acknowledgement"), case.raised_by, reason)
			return
		send_acknowledgement(case, communication, route.acknowledgement_template or DEFAULT_TEMPLATE)
	except Exception:
		frappe.db.rollback(save_point=SAVEPOINT)
		frappe.log_error(
			title=_("Case Threads could not send an acknowledgement"),
			reference_doctype="Case",
			reference_name=case.name,
		)
		case.add_note(_("The acknowledgement could not be sent; see the Error Log."))


def send_acknowledgement(case, communication, template_name):
	template = frappe.get_doc("Email Template", template_name)
	values = case.as_dict()
	subject = template.get_formatted_subject(values)
	if case.name not in subject:
		subject = f"{subject} ({case.name})"
	mailbox_address = case.email_account and frappe.db.get_value(
		"Email Account", case.email_account, "email_id"
	)
	ack = frappe.get_doc(
		{
			"doctype": "Communication",
			"communication_type": AUTOMATED,
			"communication_medium": "Email",
			"sent_or_received": "Sent",
			"subject": subject,
			"content": template.get_formatted_response(values),
			"sender": mailbox_address or None,
			"recipients": case.raised_by,
			"reference_doctype": "Case",
			"reference_name": case.name,
			"in_reply_to": communication.name,
		}
	)
	ack.flags.skip_add_signature = True
	ack.insert(ignore_permissions=True)
	ack.send_email()
	return ack
