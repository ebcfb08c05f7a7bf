"""The figures of the team lead's reports and cards (F26): medians, p90, percentages, groups.

Plain data in, plain data out; no Frappe. Durations are seconds (float); a figure with no data is None
(shown empty), never 0, so that "nobody was answered" is not read as "answered at once".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta


def median(values: Iterable[float]) -> float | None:
	ordered = sorted(v for v in values if v is not None)
	if not ordered:
		return None
	middle = len(ordered) // 2
	if len(ordered) % 2:
		return float(ordered[middle])
	return (ordered[middle - 1] + ordered[middle]) / 2


def median_ranks(count: int) -> list[int]:
	"""The 0-based ranks, in sorted order, of the one or two values whose median() is the median of
	`count` values (so that a database reads only those)."""
	if count <= 0:
		return []
	middle = count // 2
	return [middle] if count % 2 else [middle - 1, middle]


def percentile(values: Iterable[float], p: float) -> float | None:
	"""Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
	ordered = sorted(v for v in values if v is not None)
	if not ordered:
		return None
	rank = max(math.ceil(p / 100 * len(ordered)), 1)
	return float(ordered[rank - 1])


def percentage(part: int, whole: int) -> float | None:
	return round(100.0 * part / whole, 1) if whole else None


def period_start(day: date | datetime, period: str) -> date:
	"""The first day of the Day / Week (Monday) / Month / Year that `day` falls in."""
	day = day.date() if isinstance(day, datetime) else day
	if period == "Day":
		return day
	if period == "Week":
		return day - timedelta(days=day.weekday())
	if period == "Month":
		return day.replace(day=1)
	if period == "Year":
		return day.replace(month=1, day=1)
	raise ValueError(period)


@dataclass(frozen=True)
class CaseTimes:
	"""One case as the Case Response Times report sees it."""

	group: str | None
	first_response: float | None  # seconds of working time, opened → first response
	resolution: float | None  # seconds of working time, opened → resolved
	agreement_status: str | None
	reopened: bool = False
	cloned: bool = False
	merged: bool = False


@dataclass(frozen=True)
class Summary:
	group: str | None
	cases: int
	median_first_response: float | None
	p90_first_response: float | None
	median_resolution: float | None
	sla_fulfilled_pct: float | None  # of the cases whose agreement ended (Fulfilled or Failed)
	reopened: int
	cloned: int
	merged: int


def summarize(group: str | None, cases: list[CaseTimes]) -> Summary:
	ended = [c for c in cases if c.agreement_status in ("Fulfilled", "Failed")]
	return Summary(
		group=group,
		cases=len(cases),
		median_first_response=median(c.first_response for c in cases),
		p90_first_response=percentile((c.first_response for c in cases), 90),
		median_resolution=median(c.resolution for c in cases),
		sla_fulfilled_pct=percentage(sum(c.agreement_status == "Fulfilled" for c in ended), len(ended)),
		reopened=sum(c.reopened for c in cases),
		cloned=sum(c.cloned for c in cases),
		merged=sum(c.merged for c in cases),
	)


def summarize_groups(cases: Iterable[CaseTimes], sort_key: Callable | None = None) -> list[Summary]:
	"""One Summary per group (in order of the group), then the total as the last row (group None)."""
	cases = list(cases)
	groups: dict = {}
	for case in cases:
		groups.setdefault(case.group, []).append(case)
	order = sorted(groups, key=sort_key or (lambda g: (g is None, str(g or ""))))
	return [summarize(g, groups[g]) for g in order] + ([summarize(None, cases)] if cases else [])


@dataclass(frozen=True)
class Waiting:
	mailbox: str | None
	reason: str | None
	received_on: datetime


@dataclass(frozen=True)
class Aging:
	mailbox: str | None
	waiting: int
	oldest: datetime | None
	oldest_age_hours: float | None
	by_reason: dict


def aging(rows: Iterable[Waiting], now: datetime) -> list[Aging]:
	"""Per mailbox: how many emails wait, since when, and why (Unprocessed Email Aging report)."""
	boxes: dict = {}
	for row in rows:
		boxes.setdefault(row.mailbox, []).append(row)
	result = []
	for mailbox in sorted(boxes, key=lambda m: (m is None, m or "")):
		items = boxes[mailbox]
		oldest = min(r.received_on for r in items)
		reasons: dict = {}
		for r in items:
			reasons[r.reason] = reasons.get(r.reason, 0) + 1
		result.append(
			Aging(
				mailbox=mailbox,
				waiting=len(items),
				oldest=oldest,
				oldest_age_hours=round((now - oldest).total_seconds() / 3600, 1),
				by_reason=reasons,
			)
		)
	return result


def period_starts(end: date, period: str, count: int) -> list[date]:
	"""The `count` Day/Week starts up to and including the one `end` falls in, oldest first."""
	step = {"Day": 1, "Week": 7}[period]
	last = period_start(end, period)
	return [last - timedelta(days=step * i) for i in range(count - 1, -1, -1)]


def bucket(items: Iterable[tuple[date | datetime, object]], starts: list[date], period: str) -> list[list]:
	"""The values of (when, value) pairs, one list per period of `starts` (others dropped)."""
	index = {start: i for i, start in enumerate(starts)}
	result: list[list] = [[] for _ in starts]
	for when, value in items:
		if when is None:
			continue
		i = index.get(period_start(when, period))
		if i is not None:
			result[i].append(value)
	return result


def sum_counts(
	counts: Iterable[tuple[date | datetime, object, int]], starts: list[date], period: str
) -> list[int]:
	"""Per period of `starts`, the sum of the counts of (when, key, count) rows (a GROUP BY's answer:
	cases per day), others dropped."""
	return [sum(v) for v in bucket(((when, n) for when, _key, n in counts), starts, period)]
