"""When a pulled mail may leave the mail server (issue 18): at-least-once fetch, exactly-once effect.

A pull fetches mails without marking them; each mail first gets a committed attempt (keyed by
`message_key`), then is processed, and its receipt turns "Done" in the same transaction as its
outcome. Only then may the server forget it (IMAP \\Seen under UNSEEN sync, POP DELE). These are
the decisions the Email Account override (case_threads.mail.email_account) asks for.

A pull stops at the first mail whose outcome did not commit (lost database connection, job
timeout): mails are processed in UID order, so under "ALL" sync Frappe's cursor (the highest UID
that became a Communication, + 1) never passes a mail that did not commit.
"""

import hashlib
import re
from dataclasses import dataclass
from enum import Enum

# A mail that killed its pull this many times is given up on (kept as an Unhandled Email).
MAX_ATTEMPTS = 3

PENDING, DONE, GIVEN_UP = "Pending", "Done", "Given Up"
SETTLED = frozenset({DONE, GIVEN_UP})

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*((?:.*)(?:\r?\n[ \t]+.*)*)", re.IGNORECASE | re.MULTILINE)
_ANGLE = re.compile(rb"<([^<>\s]+)>")


def message_key(raw) -> str:
	"""A stable name for one mail: its Message-ID, or for mail without one the SHA-256 of its bytes.

	Read with a bounded regex on the header block, not a mail parser: the key is taken before Frappe
	parses the mail, since parsing may be what kills the pull."""
	if isinstance(raw, str):
		raw = raw.encode("utf-8", "surrogateescape")
	header = _HEADER_END.split(raw, maxsplit=1)[0]
	found = _MESSAGE_ID.search(header)
	if found:
		value = b" ".join(found.group(1).split())
		inner = _ANGLE.search(value)
		value = (inner.group(1) if inner else value).strip()
		if value:
			return "mid:" + value.decode("utf-8", "replace")
	return "sha256:" + hashlib.sha256(raw).hexdigest()


class Step(str, Enum):
	PROCESS = "process"
	SKIP = "skip"  # its outcome already committed (an earlier, interrupted pull)
	GIVE_UP = "give_up"  # poison: it never got through; keep it as an Unhandled Email


def next_step(status: str, attempts: int, limit: int = MAX_ATTEMPTS) -> Step:
	"""`attempts` counts this one: the count was committed before processing, so pulls that died
	while processing the mail are counted too."""
	if status in SETTLED:
		return Step.SKIP
	if attempts > limit:
		return Step.GIVE_UP
	return Step.PROCESS


@dataclass(frozen=True)
class Pulled:
	"""One fetched mail: where it is on the server and its key."""

	folder: str | None  # IMAP folder, None under POP
	ref: str  # IMAP UID, or the POP message number of this session
	key: str
	forget_on_server: bool  # would Frappe mark/delete it (UNSEEN sync, POP), or leave it (ALL sync)


def to_forget(pulled: list[Pulled], settled_keys: set[str]) -> dict:
	"""{folder: [refs]} the server may now forget: mails whose outcome committed, nothing else.

	A mail not settled stays unseen (or undeleted) and is fetched again by the next pull."""
	out: dict = {}
	for mail in pulled:
		if mail.forget_on_server and mail.key in settled_keys:
			refs = out.setdefault(mail.folder, [])
			if mail.ref not in refs:
				refs.append(mail.ref)
	return out
