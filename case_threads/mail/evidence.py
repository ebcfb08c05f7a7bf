"""Gathers what the database knows about an inbound message, for case_threads.core.decide.

Every lookup here is on an index (Communication.message_id, Case.name, Case.thread_token, the
Communication reference index): matching stays flat however many cases a site holds.
"""

import frappe

from case_threads.core import (
	Candidate,
	CaseRef,
	Evidence,
	find_case_numbers,
	find_subject_token,
	tokens_from_headers,
)
from case_threads.core.internal import address_is_listed, internal_patterns
from case_threads.mail.participants import is_participant, users_of
from case_threads.settings import get_settings, site_secret, tag_format

# Roles whose mail is a colleague's, not a customer's (F7).

# A clone chain longer than this is a data error, not a thread; stop following it.
MAX_CLONE_HOPS = 50


def gather_candidates(message, sender, parent=None, locked=None):
	"""Candidate cases for `message`, strongest evidence first (F5).

	`parent`: the Communication Frappe already found for In-Reply-To (InboundMail.parent_communication),
	so that its case is not looked up again. `locked`: a dict that receives the Case documents read
	here FOR UPDATE (by name), for apply_action to use instead of reading them again.
	"""
	candidates = []
	thread_ids = list(dict.fromkeys([*message.in_reply_to, *reversed(message.references)]))

	if case := case_of_stored_message(thread_ids, parent):
		if locked is None:
			candidates.append(Candidate(Evidence.MESSAGE_ID, newest_descendant(case)))
		else:
			# The strongest evidence: the case that apply_action locks whenever there is one (a reply
			# to a stored email). Locked here already, with the whole document, read once.
			doc = newest_case_doc(case)
			locked[doc.name] = doc
			candidates.append(Candidate(Evidence.MESSAGE_ID, CaseRef(doc.name, doc.status)))

	for token in tokens_from_headers(thread_ids, site_secret()):
		if case := case_by_token(token):
			candidates.append(Candidate(Evidence.HEADER_TOKEN, newest_descendant(case)))
			break

	token = find_subject_token(message.subject, tag_format())
	if token and (case := case_by_token(token)):
		candidates.append(Candidate(Evidence.SUBJECT_TOKEN, newest_descendant(case)))

	for number in find_case_numbers(message.subject):
		if frappe.db.exists("Case", number):
			case = newest_descendant(number)
			# A merged case's emails now live on its target: a participant of either counts (F24).
			took_part = sender_took_part(number, sender) or (
				case.name != number and sender_took_part(case.name, sender)
			)
			candidates.append(Candidate(Evidence.CASE_NUMBER, case, took_part))
			break
	return candidates


def case_of_stored_message(thread_ids, parent=None):
	"""The case of the nearest email in the thread that this site stored (In-Reply-To first)."""
	if not thread_ids:
		return None
	if (
		parent
		and parent.get("message_id") == thread_ids[0]
		and parent.get("reference_doctype") == "Case"
		and parent.get("reference_name")
	):
		# Frappe found the In-Reply-To email by its exact Message-ID: the nearest one, on a case.
		return parent.reference_name
	communication = frappe.qb.DocType("Communication")
	rows = (
		frappe.qb.from_(communication)
		.select(communication.message_id, communication.reference_name)
		.where(communication.message_id.isin(thread_ids))
		.where(communication.reference_doctype == "Case")
		.run()
	)
	by_id = dict(rows)
	return next((by_id[i] for i in thread_ids if i in by_id), None)


def newest_descendant(case_name, for_update=False):
	"""A closed case that was cloned forwards to its newest clone (F5, F8), a merged case to the case
	it was merged into (F24), along the whole chain.

	With for_update the rows are locked and read as committed now, not as the transaction's snapshot.
	"""
	row = _case_row(case_name, for_update)
	for _hop in range(MAX_CLONE_HOPS):
		following = row.merged_into or row.cloned_to
		if not following:
			break
		row = _case_row(following, for_update)
	return CaseRef(row.name, row.status)


def newest_case_doc(case_name):
	"""newest_descendant as the Case document, each hop read FOR UPDATE (locked, as committed now)."""
	doc = frappe.get_doc("Case", case_name, for_update=True)
	for _hop in range(MAX_CLONE_HOPS):
		following = doc.merged_into or doc.cloned_to
		if not following:
			break
		doc = frappe.get_doc("Case", following, for_update=True)
	return doc


def _case_row(name, for_update):
	case = frappe.qb.DocType("Case")
	query = (
		frappe.qb.from_(case)
		.select(case.name, case.status, case.cloned_to, case.merged_into)
		.where(case.name == name)
	)
	return (query.for_update() if for_update else query).run(as_dict=True)[0]


def case_by_token(token):
	case = frappe.qb.DocType("Case")
	rows = frappe.qb.from_(case).select(case.name).where(case.thread_token == token).run()
	return rows[0][0] if rows else None


def sender_took_part(case_name, sender):
	"""Whether `sender` raised the case, is one of its participants, or wrote or received one of
	its emails."""
	if not sender:
		return False
	if (frappe.db.get_value("Case", case_name, "raised_by") or "").lower() == sender:
		return True
	if is_participant(case_name, sender):
		return True
	communication = frappe.qb.DocType("Communication")
	pattern = f"%{sender}%"
	# The reference index narrows the rows to this case's emails before the LIKE runs.
	rows = (
		frappe.qb.from_(communication)
		.select(communication.name)
		.where(communication.reference_doctype == "Case")
		.where(communication.reference_name == case_name)
		.where(
			(communication.sender == sender)
			| communication.recipients.like(pattern)
			| communication.cc.like(pattern)
		)
		.limit(1)
		.run()
	)
	return bool(rows)


def is_internal_user(address, users=None):
	"""An agent writing from their own mail client (F7: attaches, never reopens or clones): an enabled
	user with the Case Agent or Case Manager role, or an address on the settings' internal list.
	Any other desk user (an ERPNext employee raising a request) is a customer.

	`users`: what participants.users_of() found for the mail's addresses, when it was read already."""
	if not address:
		return False
	address = address.strip().lower()
	if address_is_listed(address, internal_patterns(get_settings().get("internal_addresses"))):
		return True
	if users is None:
		users = users_of([address])
	facts = users.get(address)  # absent: no enabled user with that address
	return bool(facts and facts.internal)
