"""Participants of a case (F21): kept from its inbound mail, proposed by Reply All, trusted like
the raiser by the case-number rule (case_threads.mail.evidence.sender_took_part).

The decisions are in case_threads.core.participants.
"""

from dataclasses import dataclass
from email.utils import getaddresses
from fnmatch import fnmatchcase

import frappe
from frappe.utils import validate_email_address

from case_threads.case_threads.doctype.email_route.email_route import enabled_routes
from case_threads.core.participants import new_participants, reply_all_cc
from case_threads.shared_cache import forget

OWN_ADDRESSES_CACHE_KEY = "case_threads:own_addresses"
# Users with these roles write as agents (F7), never as customers.
INTERNAL_ROLES = ("Case Agent", "Case Manager")


def own_addresses():
	"""The site's own mailboxes (every Email Account's address). Cached in Redis for every process
	and worker of the site; any Email Account change, addition or removal clears it
	(forget_own_addresses, hooks.py), so that a mailbox added a moment ago counts at once."""
	return set(frappe.cache.get_value(OWN_ADDRESSES_CACHE_KEY, _load_own_addresses))


def _load_own_addresses():
	return sorted({a.lower() for a in frappe.get_all("Email Account", pluck="email_id") if a})


def forget_own_addresses(doc=None, method=None, *args, **kwargs):
	"""Email Account on_change / on_trash / after_rename."""
	forget(OWN_ADDRESSES_CACHE_KEY)


def internal_addresses(addresses, users=None):
	"""The desk users (System Users) among `addresses`: never participants. `users`: users_of() for
	them, when the mail's users were read already."""
	if not addresses:
		return set()
	if users is None:
		users = users_of(addresses)
	return {a.lower() for a in addresses if (facts := users.get(a.lower())) and facts.system}


def users_of(addresses):
	"""{address: UserFacts} for the enabled users among `addresses` (lower case), in one query: what
	is_internal_user and the participants' exclusion (internal_addresses) ask of every
	inbound email. Addresses that are no enabled user's are absent."""
	addresses = sorted({a.strip().lower() for a in addresses if a and a.strip()})
	if not addresses:
		return {}
	rows = frappe.db.sql(
		"""select user.email, user.user_type, max(role.role is not null) as internal
		from `tabUser` user
		left join `tabHas Role` role
			on role.parent = user.name and role.parenttype = 'User' and role.role in %(roles)s
		where user.email in %(addresses)s and user.enabled = 1
		group by user.name, user.email, user.user_type""",
		{"roles": INTERNAL_ROLES, "addresses": addresses},
	)
	return {
		email.lower(): UserFacts(system=user_type == "System User", internal=bool(internal))
		for email, user_type, internal in rows
		if email
	}


@dataclass(frozen=True)
class UserFacts:
	system: bool  # a System User (desk): never a participant
	internal: bool  # with a Case Agent or Case Manager role: writes as an agent (F7)


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


def add_participants(case_doc, people, users=None):
	"""Add (address, name) pairs to `case_doc`'s participants, written at once (no save: the case
	may be mid-reply under a row lock). Returns the rows added. `users`: users_of() for
	these addresses, when read already."""
	if not case_doc.meta.has_field("participants"):
		return []
	people = list(people)
	addresses = {a.lower() for a, _ in people if a}
	excluded = own_addresses() | internal_addresses(addresses, users) | routed_addresses(addresses)
	existing = [row.email_id for row in case_doc.get("participants") or []]
	# A case not inserted yet writes its rows with its own insert; writing them here too left rows
	# without a parent. (is_new() cannot tell: frappe.get_doc of a dict sets no __islocal.)
	stored = bool(case_doc.get("creation"))
	added = []
	for address, name in new_participants(existing, people, excluded):
		if not validate_email_address(address):
			continue  # the Email field would refuse it, and with it the case
		row = case_doc.append("participants", {"email_id": address, "full_name": name})
		if stored:
			row.db_insert()
		added.append(row)
	return added


def record_from_email(case_doc, communication):
	# inbound.decide_for read the mail's users once (users_of); other callers have none.
	return add_participants(
		case_doc, mail_people(communication), communication.flags.get("case_threads_users")
	)


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
