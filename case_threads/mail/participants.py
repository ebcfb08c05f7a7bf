"""Participants of a case (F21): kept from its inbound mail, proposed by Reply All, trusted like
the raiser by the case-number rule (case_threads.mail.evidence.sender_took_part).

The decisions are in case_threads.core.participants.
"""

from email.utils import getaddresses
from fnmatch import fnmatchcase

import frappe
from frappe.utils import validate_email_address

from case_threads.case_threads.doctype.email_route.email_route import enabled_routes
from case_threads.core.participants import new_participants, reply_all_cc


def own_addresses():
	"""The site's own mailboxes (every Email Account: a small table, read each time so that a
	mailbox added a moment ago counts at once)."""
	return {a.lower() for a in frappe.get_all("Email Account", pluck="email_id") if a}


def internal_addresses(addresses):
	if not addresses:
		return set()
	return {
		a.lower()
		for a in frappe.get_all(
			"User",
			filters={"email": ("in", list(addresses)), "user_type": "System User", "enabled": 1},
			pluck="email",
		)
	}


def routed_addresses(addresses):
	"""Addresses an Email Route takes: the site's own (aliases of its mailboxes)."""
	routes = enabled_routes()
	return {a for a in addresses if any(fnmatchcase(a, r.address_pattern.lower()) for r in routes)}


def mail_people(communication):
	"""(address, name) of the sender, To and Cc of an inbound email."""
	pairs = [(communication.sender or "", communication.sender_full_name or "")]
	for field in ("recipients", "cc"):
		pairs.extend((address, name) for name, address in getaddresses([communication.get(field) or ""]))
	return pairs


def add_participants(case_doc, people):
	"""Add (address, name) pairs to `case_doc`'s participants, written at once (no save: the case
	may be mid-reply under a row lock). Returns the rows added."""
	if not case_doc.meta.has_field("participants"):
		return []
	people = list(people)
	addresses = {a.lower() for a, _ in people if a}
	excluded = own_addresses() | internal_addresses(addresses) | routed_addresses(addresses)
	existing = [row.email_id for row in case_doc.get("participants") or []]
	added = []
	for address, name in new_participants(existing, people, excluded):
		if not validate_email_address(address):
			continue  # the Email field would refuse it, and with it the case
		row = case_doc.append("participants", {"email_id": address, "full_name": name})
		if not case_doc.is_new():
			row.db_insert()
		added.append(row)
	return added


def record_from_email(case_doc, communication):
	return add_participants(case_doc, mail_people(communication))


def is_participant(case_name, address):
	return bool(
		address
		and frappe.db.exists(
			"Case Participant",
			{"parenttype": "Case", "parent": case_name, "email_id": address.lower()},
		)
	)


def composer_defaults(case_doc):
	"""What the Case form's composer preselects: the mailbox address, and Reply All's Cc."""
	address = case_doc.email_account and frappe.db.get_value(
		"Email Account", case_doc.email_account, "email_id"
	)
	participants = [row.email_id for row in case_doc.get("participants") or []]
	return {
		"sender": address,
		"participants": participants,
		"reply_all_cc": reply_all_cc(participants, [case_doc.raised_by or ""], own_addresses()),
	}
