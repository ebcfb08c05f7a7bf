"""Outbound email from a Case carries its thread token (F4): in the subject tag and/or signed
inside the Message-ID, so that replies bring it back in In-Reply-To/References."""

import frappe

from case_threads.core import add_subject_tag, make_message_id, token_from_message_id
from case_threads.settings import site_secret, tag_format, token_in_header, token_in_subject


def case_token(case_name):
	return case_name and frappe.db.get_value("Case", case_name, "thread_token")


def before_insert(communication, method=None):
	"""An agent's email from the Case form (desk composer or communication.make)."""
	if (
		communication.sent_or_received != "Sent"
		or communication.communication_medium != "Email"
		or communication.reference_doctype != "Case"
	):
		return
	token = case_token(communication.reference_name)
	if not token:
		return
	if token_in_subject():
		communication.subject = add_subject_tag(communication.subject or "", token, tag_format())
	if token_in_header():
		# Frappe sends the Communication's own message_id, and threads replies on it too.
		communication.message_id = make_message_id(token, site_secret(), frappe.local.site)


def email_queue_before_insert(email_queue, method=None):
	"""frappe.sendmail(reference_doctype="Case", ...) without a Communication: sign its Message-ID."""
	if email_queue.reference_doctype != "Case" or not token_in_header():
		return
	secret = site_secret()
	if email_queue.message_id and token_from_message_id(email_queue.message_id, secret):
		return
	if token := case_token(email_queue.reference_name):
		email_queue.message_id = make_message_id(token, secret, frappe.local.site)
