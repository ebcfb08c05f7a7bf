"""Merge and split (F24) as plain decisions: where a merge lands, when it is refused, what a split moves."""

from collections.abc import Callable, Sequence

# A chain of merges/clones longer than this is a data error, not a thread.
MAX_HOPS = 50


class MergeRefused(ValueError):
	"""Why a merge cannot happen; `reason` is one of the keys below."""

	SAME = "same"
	ALREADY_MERGED = "already_merged"
	LOOP = "loop"

	def __init__(self, reason: str):
		super().__init__(reason)
		self.reason = reason


def follow_chain(start: str, forward: Callable[[str], str | None], max_hops: int = MAX_HOPS) -> list[str]:
	"""`start` and the cases it forwards to (merged_into or cloned_to), in order; stops at a repeat."""
	path = [start]
	for _hop in range(max_hops):
		following = forward(path[-1])
		if not following or following in path:
			break
		path.append(following)
	return path


def merge_target(source: str, target: str, forward: Callable[[str], str | None]) -> str:
	"""The case that `source` is really merged into: `target`, or where `target` was merged/cloned to.

	Refused: a case into itself, a case that was already merged, and any merge whose target chain
	comes back to the source (B into A after A into B) or goes round in a circle.
	"""
	if source == target:
		raise MergeRefused(MergeRefused.SAME)
	if forward(source):
		raise MergeRefused(MergeRefused.ALREADY_MERGED)
	path = follow_chain(target, forward)
	if source in path or (forward(path[-1]) in path):
		raise MergeRefused(MergeRefused.LOOP)
	return path[-1]


def emails_from(emails: Sequence[tuple[str, object]], first: str) -> list[str]:
	"""Split: the emails from `first` onwards. `emails` are (name, sort key) in any order; the old
	case must keep at least one email, so splitting from its first email moves nothing."""
	ordered = [name for name, _key in sorted(emails, key=lambda e: (e[1], e[0]))]
	if first not in ordered:
		raise ValueError(first)
	index = ordered.index(first)
	return ordered[index:] if index else []


def notes_from(notes: Sequence[tuple[str, object]], cutoff: object) -> list[str]:
	"""Split: the notes written at or after the first moved email."""
	return [name for name, when in notes if when >= cutoff]
