"""decide(): which case an inbound email belongs to and what it does there (F5, F7, F8, F10, F11)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from case_threads.core.classify import MessageClass, classify
from case_threads.core.lifecycle import Outcome, lifecycle_outcome
from case_threads.core.parsing import Message
from case_threads.core.routing import Route, match_route


class Evidence(str, Enum):
	"""Strongest first."""

	MESSAGE_ID = "message_id"
	HEADER_TOKEN = "header_token"
	SUBJECT_TOKEN = "subject_token"
	CASE_NUMBER = "case_number"


STRENGTH = {evidence: rank for rank, evidence in enumerate(Evidence)}
CASE_NUMBER_RE = re.compile(r"\bCASE-\d{3,}\b", re.IGNORECASE)


@dataclass(frozen=True)
class CaseRef:
	name: str
	status: str


@dataclass(frozen=True)
class Candidate:
	evidence: Evidence
	case: CaseRef
	# Only for CASE_NUMBER: anyone can type a case number, so it counts for participants only.
	sender_took_part: bool = False


@dataclass(frozen=True)
class Action:
	outcome: Outcome
	case: str | None = None
	evidence: Evidence | None = None
	route: Route | None = None
	reason: str | None = None
	message_class: MessageClass = MessageClass.HUMAN


def find_case_numbers(subject: str) -> list[str]:
	return list(dict.fromkeys(n.upper() for n in CASE_NUMBER_RE.findall(subject or "")))


def trusted(candidate: Candidate) -> bool:
	return candidate.evidence is not Evidence.CASE_NUMBER or candidate.sender_took_part


def decide(
	message: Message,
	candidates: Sequence[Candidate],
	routes: Sequence[Route],
	*,
	email_account: str | None,
	sender_is_internal: bool,
	message_class: MessageClass | None = None,
) -> Action:
	message_class = message_class or classify(message)
	best = min(filter(trusted, candidates), key=lambda c: STRENGTH[c.evidence], default=None)
	if best:
		outcome = lifecycle_outcome(best.case.status, message_class, sender_is_internal)
		return Action(outcome, best.case.name, best.evidence, message_class=message_class)
	if message_class is not MessageClass.HUMAN:
		# Unmatched machine mail never opens a case: a person decides (F11).
		return Action(Outcome.UNPROCESSED, reason=message_class.value, message_class=message_class)
	match = match_route(message, routes, email_account)
	if match.route:
		return Action(Outcome.NEW_CASE, route=match.route, message_class=message_class)
	return Action(Outcome.UNPROCESSED, reason=match.reason, message_class=message_class)
