"""Participants of a case (F21): the raiser and the people on To/Cc of its inbound mail."""

from collections.abc import Iterable


def new_participants(
	existing: Iterable[str],
	candidates: Iterable[tuple[str, str]],
	excluded: Iterable[str],
) -> list[tuple[str, str]]:
	"""(address, name) pairs of `candidates` that are not yet participants nor `excluded` (the
	site's own mailboxes, internal users), lower-cased, each once, in order."""
	seen = {a.strip().lower() for a in existing if a}
	skip = {a.strip().lower() for a in excluded if a}
	out = []
	for address, name in candidates:
		address = (address or "").strip().lower()
		if not address or "@" not in address or address in seen or address in skip:
			continue
		seen.add(address)
		out.append((address, (name or "").strip()))
	return out


def reply_all_cc(participants: Iterable[str], to: Iterable[str], own: Iterable[str]) -> list[str]:
	"""The participants Reply All proposes as Cc: all but the To recipients and our own addresses."""
	skip = {a.strip().lower() for a in [*to, *own] if a}
	return list(dict.fromkeys(a.strip().lower() for a in participants if a and a.strip().lower() not in skip))
