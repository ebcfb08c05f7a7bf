"""Inbound email → Case, Unprocessed Email or (if even that fails) Frappe's Unhandled Email.

hooks.py → Communication before_insert/after_insert here → case_threads.core.decide.
"""

import frappe
from frappe import _

from case_threads.case_threads.doctype.email_route.email_route import enabled_routes
from case_threads.core import Message, MessageClass, addresses, decide, parse_message
from case_threads.core.neighbours import OURS
from case_threads.mail import neighbour
from case_threads.mail.apply import apply_action, park
from case_threads.mail.autosend import record_bounce
from case_threads.mail.email_account import interruption
from case_threads.mail.evidence import gather_candidates, is_internal_user
from case_threads.mail.participants import mail_people, users_of

SAVEPOINT = "case_threads_inbound"


def is_ours(communication):
	"""Received email that the app decides for: not another app's append_to thread."""
	if not (
		communication.flags.in_receive
		and communication.sent_or_received == "Received"
		and communication.communication_medium == "Email"
	):
		return False
	mail = neighbour.inbound_mail()
	# Mail of another app's mailbox (e.g. Append To = HD Ticket) stays in that app's flow.
	return not mail or neighbour.side(mail) == OURS


def before_insert(communication, method=None):
	if not is_ours(communication):
		return
	if on_another_document(communication):
		# Frappe threaded this reply onto another app's document (a Sales Invoice, a Helpdesk
		# ticket): it stays there, neither a Case nor parked (good neighbour).
		return
	communication.flags.case_threads_inbound = True
	# Frappe guessed a Case from In-Reply-To, even from the part before '@' that anyone can forge;
	# the app decides the case itself, from evidence it trusts.
	communication.reference_doctype = communication.reference_name = None


def on_another_document(communication):
	return bool(
		communication.reference_doctype
		and communication.reference_name
		and communication.reference_doctype != "Case"
	)


def after_insert(communication, method=None):
	if not communication.flags.get("case_threads_inbound"):
		return
	mail = neighbour.inbound_mail()
	frappe.db.savepoint(SAVEPOINT)
	try:
		message = parse_message(mail.mail) if mail else message_from_communication(communication)
		action = decide_for(communication, message)
		apply_action(communication, message, action)
		if action.message_class is MessageClass.BOUNCE:
			record_bounce(mail)  # loop protection: no automatic mail to that address for a while
	except Exception as e:
		if interruption(e):
			raise  # a lost database connection or a job timeout is not this email's fault (issue 18)
		# One bad email must not stop the Email Account's pull: keep it, with the error, for a person.
		frappe.db.rollback(save_point=SAVEPOINT)
		if communication.reference_doctype == "Case" and communication.reference_name:
			# A case held in the process cache (apply.hold_in_process_cache) is rolled back too.
			frappe.clear_document_cache("Case", communication.reference_name)
		communication.reference_doctype = communication.reference_name = None
		error = frappe.get_traceback()
		frappe.log_error(title=_("Case Threads could not process an inbound email"), message=error)
		park(communication, "error", error)
		return
	if mail and action.message_class is not MessageClass.HUMAN:
		mail.flags.case_threads_silent = True


def decide_for(communication, message):
	sender = (communication.sender or message.from_addr or "").lower()
	# Read once per email: the users among its addresses (internal sender, participants' exclusion),
	# and the cases read FOR UPDATE while gathering, which apply_action then uses as they are.
	users = users_of([sender, *(address for address, _name in mail_people(communication))])
	communication.flags.case_threads_users = users
	communication.flags.case_threads_locked = locked = {}
	# Frappe's In-Reply-To lookup, done before the insert (InboundMail.parent_communication).
	parent = getattr(neighbour.inbound_mail(), "_parent_communication", None)
	return decide(
		message,
		gather_candidates(message, sender, parent=parent or None, locked=locked),
		enabled_routes(),
		email_account=communication.email_account,
		sender_is_internal=is_internal_user(sender, users),
	)


def message_from_communication(communication):
	"""Degraded view when another app's Email Account override hides the raw mail from us."""
	return Message(
		message_id=communication.message_id or "",
		from_name=communication.sender_full_name or "",
		from_addr=(communication.sender or "").lower(),
		to=addresses(communication.recipients or ""),
		cc=addresses(communication.cc or ""),
		subject=communication.subject or "",
	)
