"""Outbound case mail (F20): who it is from, how it threads, and the headers it carries.

Plain functions on plain data; case_threads.mail.outbound applies them to the Email Queue.
"""

import re
from collections.abc import Iterable, Mapping, Sequence

# RFC 5322 §3.6.4 lets References grow with every message; keep the thread's first id (its root)
# and the nearest ancestors, as most clients do.
REFERENCES_HEAD = 1
REFERENCES_TAIL = 20

# Headers of every automatic mail the app sends (RFC 3834, and Exchange's own marker).
AUTO_HEADERS = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}

ID_RE = re.compile(r"<([^<>\s]+)>|([^\s<>,;]+@[^\s<>,;]+)")
HEADER_NAME_RE = re.compile(r"^([!-9;-~]+):")


def bare_id(message_id: str) -> str:
	return (message_id or "").strip().strip("<>").strip()


def split_ids(value: str | Iterable[str] | None) -> list[str]:
	"""Message-IDs from a References/In-Reply-To value (or a list of ids), without brackets."""
	if not value:
		return []
	if not isinstance(value, str):
		value = " ".join(f"<{bare_id(v)}>" for v in value if bare_id(v))
	return [a or b for a, b in ID_RE.findall(value)]


def thread_references(
	parent_references: str | Iterable[str] | None,
	parent_message_id: str | None,
	head: int = REFERENCES_HEAD,
	tail: int = REFERENCES_TAIL,
) -> list[str]:
	"""References of a reply: the parent's References plus the parent's Message-ID, each id once,
	bounded to the first `head` and the last `tail` ids."""
	ids = list(dict.fromkeys([*split_ids(parent_references), *split_ids([parent_message_id or ""])]))
	if len(ids) > head + tail:
		ids = ids[:head] + ids[len(ids) - tail :]
	return ids


def format_ids(ids: Sequence[str]) -> str:
	return " ".join(f"<{bare_id(i)}>" for i in ids if bare_id(i))


def choose_sender(
	requested: str | None,
	*,
	case_address: str | None,
	explicit_addresses: Iterable[str],
) -> str | None:
	"""The address a case mail leaves from.

	The case's mailbox, unless the agent picked another sending account explicitly:
	`explicit_addresses` are the site's sending accounts other than the default one (a user's own
	address or the site's default account is what the composer fills in when nobody chooses).
	"""
	requested = (requested or "").strip().lower()
	if not case_address:
		return requested or None
	explicit = {a.strip().lower() for a in explicit_addresses if a}
	if requested and requested in explicit and requested != case_address.lower():
		return requested
	return case_address.lower()


def _clean(value: str) -> str:
	# A header value never carries a line break of its own (header injection).
	return re.sub(r"[\r\n]+", " ", value).strip()


def _fold_ids(value: str, linesep: str) -> str:
	"""Long id lists folded between ids (lines stay under 998 characters, RFC 5322 §2.1.1)."""
	return (linesep + " ").join(value.split(" "))


def set_headers(raw: str, headers: Mapping[str, str | None]) -> str:
	"""`raw` (a whole message) with each header in `headers` replaced (None: removed); the body is
	left byte for byte as it was, so Frappe's per-recipient placeholders in it stay intact."""
	linesep = "\r\n" if "\r\n" in raw[:2000] else "\n"
	split_at = raw.find(linesep * 2)
	head, body = (raw, "") if split_at < 0 else (raw[:split_at], raw[split_at:])
	wanted = {name.lower(): (name, value) for name, value in headers.items()}
	kept, skipping = [], False
	for line in head.split(linesep):
		if line[:1] in (" ", "\t"):
			if not skipping:
				kept.append(line)
			continue
		match = HEADER_NAME_RE.match(line)
		skipping = bool(match and match.group(1).lower() in wanted)
		if not skipping:
			kept.append(line)
	for name, value in wanted.values():
		if value is None or not _clean(value):
			continue
		value = _clean(value)
		if name.lower() in ("references", "in-reply-to"):
			value = _fold_ids(value, linesep)
		kept.append(f"{name}: {value}")
	return linesep.join(kept) + body
