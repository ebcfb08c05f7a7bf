"""Email Routes (F10): the first route, in order, that takes a To/Cc address of a new email."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache

from case_threads.core.parsing import Message

NO_ROUTE = "no_route"
ONLY_BCC = "only_bcc"


@dataclass(frozen=True)
class Route:
	name: str
	address_pattern: str
	email_account: str | None = None
	sender_pattern: str | None = None
	# Case-insensitive text; "re:" at the start makes the rest a regular expression.
	subject_pattern: str | None = None
	defaults: Mapping[str, object] = field(default_factory=dict)
	# What a new case of this route is answered with (F23): the setting and the Email Template.
	acknowledge: bool = False
	acknowledgement_template: str | None = None


@dataclass(frozen=True)
class RouteMatch:
	route: Route | None
	address: str | None
	reason: str | None = None


@lru_cache(maxsize=256)
def _subject_regex(pattern: str) -> re.Pattern:
	if pattern.lower().startswith("re:"):
		return re.compile(pattern[3:], re.IGNORECASE)
	return re.compile(re.escape(pattern), re.IGNORECASE)


def _takes(route: Route, address: str, message: Message, email_account: str | None) -> bool:
	if route.email_account and route.email_account != email_account:
		return False
	if not fnmatchcase(address, route.address_pattern.lower()):
		return False
	if route.sender_pattern and not fnmatchcase(message.from_addr, route.sender_pattern.lower()):
		return False
	return not route.subject_pattern or bool(_subject_regex(route.subject_pattern).search(message.subject))


def visible_recipients(message: Message) -> tuple[str, ...]:
	return tuple(dict.fromkeys(message.to + message.cc))


def match_route(message: Message, routes: Sequence[Route], email_account: str | None) -> RouteMatch:
	recipients = visible_recipients(message)
	for route in routes:
		for address in recipients:
			if _takes(route, address, message, email_account):
				return RouteMatch(route, address)
	return RouteMatch(None, None, ONLY_BCC if _only_bcc(message, recipients) else NO_ROUTE)


def _only_bcc(message: Message, recipients: tuple[str, ...]) -> bool:
	"""The mail reached us though none of its visible recipients is the mailbox it was delivered to."""
	if not recipients:
		return True
	return bool(message.delivered_to) and not set(message.delivered_to) & set(recipients)


def matches_per_address(message: Message, routes: Sequence[Route], email_account: str | None) -> dict:
	"""For "Test route": each To/Cc address and the first route that would take it."""
	return {
		address: next((r for r in routes if _takes(r, address, message, email_account)), None)
		for address in visible_recipients(message)
	}
