"""Loop protection for mail the app sends on its own (F22): allowed, or the reason it is not.

The shell (case_threads.mail.autosend) counts what was sent from the database and notes every
send held back on the case's timeline.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from case_threads.core.classify import DAEMON_RE, MessageClass
from case_threads.core.lifecycle import Outcome

# Reasons (the shell turns them into translated text).
NO_RECIPIENT = "no_recipient"
MACHINE_MAIL = "machine_mail"
OWN_MAILBOX = "own_mailbox"
NOREPLY = "noreply"
INTERNAL_USER = "internal_user"
BOUNCED = "bounced"
HOURLY_LIMIT = "hourly_limit"
DAILY_LIMIT = "daily_limit"

NOREPLY_RE = re.compile(
	r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|noreply[-+.]\S*|notifications?|"
	r"auto[-_.]?(reply|responder|mailer)|daemon|listserv|majordomo|mailman)@",
	re.IGNORECASE,
)


@dataclass(frozen=True)
class Limits:
	per_hour: int = 10
	per_day: int = 40


@dataclass(frozen=True)
class AutoSendFacts:
	recipient: str
	sent_last_hour: int = 0
	sent_last_day: int = 0
	bounced_recently: bool = False
	is_internal: bool = False
	message_class: MessageClass = MessageClass.HUMAN
	own_addresses: frozenset = field(default_factory=frozenset)


def is_noreply(address: str) -> bool:
	return bool(NOREPLY_RE.match(address or "") or DAEMON_RE.match(address or ""))


def autosend_block(facts: AutoSendFacts, limits: Limits = Limits()) -> str | None:
	"""None when an automatic mail to `facts.recipient` may go out, else the reason it may not."""
	recipient = (facts.recipient or "").strip().lower()
	if not recipient or "@" not in recipient:
		return NO_RECIPIENT
	if facts.message_class is not MessageClass.HUMAN:
		return MACHINE_MAIL
	if recipient in {a.lower() for a in facts.own_addresses}:
		return OWN_MAILBOX
	if is_noreply(recipient):
		return NOREPLY
	if facts.is_internal:
		return INTERNAL_USER
	if facts.bounced_recently:
		return BOUNCED
	if facts.sent_last_hour >= limits.per_hour:
		return HOURLY_LIMIT
	if facts.sent_last_day >= limits.per_day:
		return DAILY_LIMIT
	return None


def should_acknowledge(outcome: Outcome, route_acknowledges: bool) -> bool:
	"""Only a case that this very mail opened, on a route that asks for it (never a reply, an
	attached or Unprocessed mail). Who may receive it is autosend_block's question."""
	return outcome is Outcome.NEW_CASE and bool(route_acknowledges)


def failed_recipients(headers: dict, dsn_blocks: Iterable[dict] = ()) -> list[str]:
	"""Addresses a bounce reports as permanently failed: X-Failed-Recipients, and the
	Final-Recipient of each delivery-status block whose Action is failed (RFC 3464)."""
	found = [a.strip().lower() for a in (headers.get("x-failed-recipients") or "").split(",")]
	for block in dsn_blocks:
		action = (block.get("action") or "").strip().lower()
		status = (block.get("status") or "").strip()
		if action != "failed" or (status and not status.startswith("5")):
			continue
		value = block.get("final-recipient") or block.get("original-recipient") or ""
		found.append(value.split(";", 1)[-1].strip().strip("<>").lower())
	return list(dict.fromkeys(a for a in found if "@" in a))


def dsn_blocks(mime_message) -> list[dict]:
	"""The per-recipient blocks of a delivery-status report (an email.message.Message), as dicts
	with lower-case keys; [] for anything else. Never raises."""
	blocks = []
	try:
		parts = list(mime_message.walk())
	except Exception:
		return blocks
	for part in parts[:200]:
		if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
			continue
		payload = part.get_payload()
		for block in payload if isinstance(payload, list) else []:
			try:
				blocks.append({k.lower(): str(v) for k, v in block.items()})
			except Exception:
				continue
	return blocks
