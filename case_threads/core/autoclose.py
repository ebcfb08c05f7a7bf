"""Cases that close themselves (F25): which quiet cases move on, and to what. No Frappe here.

A case is *quiet since* the latest of: the customer's last email, and the moment it entered its
present status when the app knows it (``resolved_on`` for Resolved, ``on_hold_since`` — the SLA
pause that starts with the agent's reply — for Replied). A Resolved case quiet for
``close_after_days`` becomes Closed; a Replied case quiet for ``resolve_after_days`` becomes
Resolved. 0 days turns a rule off. The job re-asks :func:`next_status` on the locked row, so a
case that got mail after the job read it (it is Open again, or its last update is newer) stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Rules:
	close_after_days: int = 7
	resolve_after_days: int = 0


# status → (the Rules attribute with its quiet days, the status it moves to)
MOVES = {
	"Resolved": ("close_after_days", "Closed"),
	"Replied": ("resolve_after_days", "Resolved"),
}


def cutoff(status: str, now: datetime, rules: Rules) -> datetime | None:
	"""Cases in `status` quiet since before this instant move on; None: the rule is off."""
	if status not in MOVES:
		return None
	days = int(getattr(rules, MOVES[status][0]) or 0)
	return now - timedelta(days=days) if days > 0 else None


def quiet_since(last_customer_update: datetime | None, *entered: datetime | None) -> datetime | None:
	"""The latest known moment something happened on the case (None: nothing known)."""
	known = [value for value in (last_customer_update, *entered) if value]
	return max(known) if known else None


def next_status(
	status: str,
	last_customer_update: datetime | None,
	entered: datetime | None,
	now: datetime,
	rules: Rules,
) -> str | None:
	"""The status a case should move to now, or None to leave it alone.

	`entered` is when the case entered `status` (resolved_on / on_hold_since), if known. A case
	with no date at all is left alone: the job never guesses how long it has been quiet.
	"""
	limit = cutoff(status, now, rules)
	since = quiet_since(last_customer_update, entered)
	if limit is None or since is None or since > limit:
		return None
	return MOVES[status][1]


def active_statuses(rules: Rules) -> list[str]:
	"""The statuses the job has to look at under `rules` (in the order it handles them)."""
	return [status for status in ("Replied", "Resolved") if int(getattr(rules, MOVES[status][0]) or 0) > 0]
