"""Outbound email on a Case (F4, F20).

- Communication before_insert: an agent's email written on one of the case's emails (Reply / Reply
  All / Forward on the email's form: reference Communication) becomes an email on the case; every
  case email gets the thread token and leaves from the case's mailbox unless the agent picked
  another sending account.
- Email Queue before_insert: the mail itself (every path: Communication, frappe.sendmail) gets
  From/Reply-To and the envelope of the case's mailbox, In-Reply-To and References of the thread,
  the signed Message-ID, and the Auto-Submitted headers when the app sends it on its own.
- Email Queue after_insert: frappe.sendmail(reference_doctype="Case", …) to a customer, which
  makes no Communication, gets one, so that it shows on the case and counts as a reply.

The decisions are in case_threads.core.outbound.
"""

from email import message_from_string, policy
from email.utils import formataddr

import frappe
from frappe.utils import get_formatted_email, parse_addr, split_emails

from case_threads.core import add_subject_tag, make_message_id, token_from_message_id
from case_threads.core.outbound import (
	AUTO_HEADERS,
	bare_id,
	choose_sender,
	format_ids,
	set_headers,
	split_ids,
	thread_references,
)
from case_threads.settings import site_secret, tag_format, token_in_header, token_in_subject

# Ids of the case's earlier mails read to build References (the nearest ones matter).
THREAD_READ_LIMIT = 200


def case_token(case_name):
	return case_name and frappe.db.get_value("Case", case_name, "thread_token")


def is_outbound_email(communication):
	return communication.sent_or_received == "Sent" and communication.communication_medium == "Email"


def before_insert(communication, method=None):
	"""An agent's email from the Case form, from one of its emails, or over REST."""
	if not is_outbound_email(communication) or communication.flags.get("case_threads_from_queue"):
		return
	if communication.reference_doctype == "Communication":
		repoint_to_case(communication)
	if communication.reference_doctype != "Case" or not communication.reference_name:
		return
	case = frappe.db.get_value(
		"Case", communication.reference_name, ["name", "thread_token", "email_account"], as_dict=True
	)
	if not case:
		return
	token = case.thread_token
	if token and token_in_subject():
		communication.subject = add_subject_tag(communication.subject or "", token, tag_format())
	if token and token_in_header():
		# Frappe sends the Communication's own message_id, and threads replies on it too.
		communication.message_id = make_message_id(token, site_secret(), frappe.local.site)
	send_from_case_mailbox(communication, case.email_account)


def repoint_to_case(communication):
	"""Reply / Reply All / Forward on an email of a case: the reply belongs to the case, and answers
	that email (In-Reply-To)."""
	parent = frappe.db.get_value(
		"Communication",
		communication.reference_name,
		["name", "reference_doctype", "reference_name"],
		as_dict=True,
	)
	if not parent or parent.reference_doctype != "Case" or not parent.reference_name:
		return
	communication.reference_doctype = "Case"
	communication.reference_name = parent.reference_name
	communication.in_reply_to = parent.name
	# What Frappe does for a reply to a Communication (its after_insert no longer sees one).
	frappe.db.set_value("Communication", parent.name, "status", "Replied", update_modified=False)


def mailbox(account_name):
	return account_name and frappe.db.get_value(
		"Email Account",
		account_name,
		["name", "email_id", "enable_outgoing", "email_account_name"],
		as_dict=True,
	)


def explicit_sender_addresses():
	"""Sending accounts an agent can only have picked on purpose: all but the default one."""
	return frappe.get_all(
		"Email Account", filters={"enable_outgoing": 1, "default_outgoing": 0}, pluck="email_id"
	)


def send_from_case_mailbox(communication, account_name):
	box = mailbox(account_name)
	if not box or not box.email_id:
		return
	name, address = parse_addr(communication.sender or get_formatted_email(frappe.session.user))
	chosen = choose_sender(address, case_address=box.email_id, explicit_addresses=explicit_sender_addresses())
	if chosen != box.email_id.lower():
		return
	if address and address.lower() != chosen and not communication.sender_full_name:
		# The agent's name stays as the display name: "Ada Agent <support@…>".
		communication.sender_full_name = (name if name and name != address else None) or frappe.db.get_value(
			"User", {"email": address}, "full_name"
		)
	communication.sender = box.email_id
	if box.enable_outgoing:
		communication.email_account = box.name


# -- the mail itself ------------------------------------------------------------------------------


def email_queue_before_insert(email_queue, method=None):
	"""Every outbound mail about a case: its mailbox, its thread, its token, its auto headers."""
	communication = email_queue.communication and frappe.db.get_value(
		"Communication",
		email_queue.communication,
		[
			"name",
			"sent_or_received",
			"communication_type",
			"in_reply_to",
			"reference_doctype",
			"reference_name",
		],
		as_dict=True,
	)
	if communication and communication.sent_or_received != "Sent":
		return  # Frappe telling assignees about an inbound email: not mail to the customer
	if communication and communication.reference_doctype == "Case":
		case_name = communication.reference_name
	elif not communication and email_queue.reference_doctype == "Case":
		case_name = email_queue.reference_name
		if not mails_outside(email_queue):
			return  # a notification to agents about the case
	else:
		return
	case = frappe.db.get_value("Case", case_name, ["name", "thread_token", "email_account"], as_dict=True)
	if not case or not email_queue.message:
		return
	headers = {}
	headers.update(message_id_header(email_queue, case))
	headers.update(sender_headers(email_queue, case))
	headers.update(thread_headers(email_queue, case, communication))
	if communication and communication.communication_type == "Automated Message":
		headers.update(AUTO_HEADERS)
	email_queue.message = set_headers(email_queue.message, headers)


def mails_outside(email_queue):
	"""Whether the queued mail goes to anyone but the site's own users."""
	recipients = [row.recipient for row in email_queue.recipients or []]
	if not recipients:
		return False
	users = frappe.get_all(
		"User", filters={"email": ("in", recipients), "user_type": "System User"}, pluck="email"
	)
	return bool(set(recipients) - set(users))


def message_id_header(email_queue, case):
	"""frappe.sendmail(reference_doctype="Case") without a Communication: a signed Message-ID."""
	if not (token_in_header() and case.thread_token):
		return {}
	secret = site_secret()
	if email_queue.message_id and token_from_message_id(email_queue.message_id, secret):
		return {}
	email_queue.message_id = make_message_id(case.thread_token, secret, frappe.local.site)
	return {"Message-Id": f"<{email_queue.message_id}>"}


def sender_headers(email_queue, case):
	box = mailbox(case.email_account)
	if not box or not box.email_id:
		return {}
	name, address = parse_addr(email_queue.sender or "")
	chosen = choose_sender(address, case_address=box.email_id, explicit_addresses=explicit_sender_addresses())
	if chosen != box.email_id.lower():
		return {}
	display = name if name and name != address else box.email_account_name
	email_queue.sender = formataddr((display, box.email_id))
	if box.enable_outgoing:
		email_queue.email_account = box.name  # its own SMTP server
	return {"From": email_queue.sender, "Reply-To": box.email_id}


def thread_headers(email_queue, case, communication):
	"""In-Reply-To: the email answered (or the case's latest inbound email); References: the thread."""
	parent_id = None
	if communication and communication.in_reply_to:
		parent_id = frappe.db.get_value("Communication", communication.in_reply_to, "message_id")
	if not parent_id:
		existing = split_ids(header_of(email_queue.message, "In-Reply-To"))
		parent_id = existing[-1] if existing else None
	if not parent_id:
		parent_id = frappe.db.get_value(
			"Communication",
			{"reference_doctype": "Case", "reference_name": case.name, "sent_or_received": "Received"},
			"message_id",
			order_by="communication_date desc, creation desc",
		)
	if not parent_id:
		return {}
	parent_id = bare_id(parent_id)
	own = bare_id(email_queue.message_id)
	earlier = [
		i
		for i in reversed(
			frappe.get_all(
				"Communication",
				filters={
					"reference_doctype": "Case",
					"reference_name": case.name,
					"message_id": ("is", "set"),
					"communication_type": "Communication",
				},
				order_by="communication_date desc, creation desc",
				pluck="message_id",
				limit=THREAD_READ_LIMIT,
			)
		)
		if bare_id(i) not in (parent_id, own)
	]
	# The thread up to the email answered, as this site has it (Frappe does not keep References).
	references = thread_references(earlier, parent_id)
	return {"In-Reply-To": f"<{parent_id}>", "References": format_ids(references)}


def header_of(raw, name):
	head = raw.split("\r\n\r\n", 1)[0] if "\r\n\r\n" in raw else raw.split("\n\n", 1)[0]
	return message_from_string(head + "\n\n", policy=policy.compat32).get(name)


def email_queue_after_insert(email_queue, method=None):
	"""frappe.sendmail(reference_doctype="Case", …) to a customer: recorded as an email of the case."""
	if email_queue.communication or email_queue.reference_doctype != "Case" or not email_queue.reference_name:
		return
	if not frappe.db.exists("Case", email_queue.reference_name) or not mails_outside(email_queue):
		return
	message = message_from_string(email_queue.message, policy=policy.default)
	body = message.get_body(preferencelist=("html", "plain"))
	recipients = [row.recipient for row in email_queue.recipients or []]
	cc = set(split_emails(email_queue.show_as_cc or ""))
	communication = frappe.get_doc(
		{
			"doctype": "Communication",
			"communication_type": "Communication",
			"communication_medium": "Email",
			"sent_or_received": "Sent",
			"subject": str(message.get("Subject") or ""),
			"content": body.get_content() if body else "",
			"sender": parse_addr(email_queue.sender or "")[1] or None,
			"recipients": ", ".join(r for r in recipients if r not in cc),
			"cc": ", ".join(sorted(cc)) or None,
			"reference_doctype": "Case",
			"reference_name": email_queue.reference_name,
			"message_id": bare_id(email_queue.message_id),
			"email_account": email_queue.email_account,
			"delivery_status": "Sending",
		}
	)
	communication.flags.case_threads_from_queue = True
	communication.flags.skip_add_signature = True
	communication.insert(ignore_permissions=True)
	email_queue.db_set("communication", communication.name, update_modified=False)
