"""Working-time arithmetic for service levels (F23): plain functions, no Frappe.

A Calendar says when the clock runs: per weekday a list of (start, end) local wall times in minutes
after midnight (end may be 1440, the next midnight), holiday dates on which it never runs, and the
IANA timezone those wall times are in. Instants are timezone-aware datetimes; durations are
timedeltas of real elapsed time inside working hours, so a working day that crosses a
daylight-saving change is as long as the clock on the wall says (09:00-17:00 is 8 hours either way).

    add_working(start, duration, calendar)  the instant `duration` of working time after `start`
    working_between(a, b, calendar)         the working time from a to b (negative when b < a)
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60
ZERO = timedelta(0)
# A calendar whose clock never runs (or only on holidays) would make add_working loop forever.
MAX_SEARCH_DAYS = 366 * 20


@dataclass(frozen=True)
class Calendar:
	tz: str
	# weekday (0 = Monday) → ((start_minute, end_minute), …), 0 <= start < end <= 1440
	hours: Mapping[int, tuple[tuple[int, int], ...]]
	holidays: frozenset[date] = field(default_factory=frozenset)

	def __post_init__(self):
		ZoneInfo(self.tz)  # unknown timezone → ZoneInfoNotFoundError (a KeyError)
		normal = {}
		for weekday, spans in dict(self.hours).items():
			if weekday not in range(7):
				raise ValueError(f"weekday {weekday} is not 0..6")
			merged = []
			for start, end in sorted(spans):
				if not 0 <= start < end <= DAY_MINUTES:
					raise ValueError(f"working hours {start}-{end} are not within one day")
				if merged and start <= merged[-1][1]:
					merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
				else:
					merged.append((start, end))
			if merged:
				normal[weekday] = tuple(merged)
		if not normal:
			raise ValueError("a calendar needs working hours on at least one weekday")
		object.__setattr__(self, "hours", normal)
		object.__setattr__(self, "holidays", frozenset(self.holidays))

	@property
	def zone(self):
		return ZoneInfo(self.tz)


def calendar(tz: str, hours: Mapping[int, Iterable[tuple[time, time | None]]], holidays=()) -> Calendar:
	"""A Calendar from wall-clock times; an end of None or 00:00 means the next midnight."""
	return Calendar(
		tz=tz,
		hours={
			weekday: tuple((_minutes(start), _minutes(end) or DAY_MINUTES) for start, end in spans)
			for weekday, spans in hours.items()
		},
		holidays=frozenset(holidays),
	)


def _minutes(value: time | None) -> int:
	return 0 if value is None else value.hour * 60 + value.minute


def _wall(day: date, minutes: int, zone: ZoneInfo) -> datetime:
	"""The instant (UTC) of a wall time on `day`; a wall time that does not exist (the hour skipped
	by a daylight-saving change) is read with the offset before the change, as zoneinfo does."""
	if minutes == DAY_MINUTES:
		day, minutes = day + timedelta(days=1), 0
	local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
	return local.astimezone(timezone.utc)


def intervals(cal: Calendar, since: datetime) -> Iterator[tuple[datetime, datetime]]:
	"""Working intervals (UTC, in order) that end at or after `since`, for as long as asked."""
	_check_aware(since)
	zone = cal.zone
	day = since.astimezone(zone).date() - timedelta(days=1)
	for _ in range(MAX_SEARCH_DAYS):
		if day not in cal.holidays:
			for start_min, end_min in cal.hours.get(day.weekday(), ()):
				start, end = _wall(day, start_min, zone), _wall(day, end_min, zone)
				if end > start and end >= since:
					yield start, end
		day += timedelta(days=1)
	raise ValueError("no working hours within twenty years")


def add_working(start: datetime, duration: timedelta, cal: Calendar) -> datetime:
	"""The instant at which `duration` of working time has passed since `start`.

	Always inside working hours (an interval's end counts as inside): a zero duration gives the
	first working instant at or after `start`.
	"""
	if duration < ZERO:
		raise ValueError("a negative duration")
	_check_aware(start)
	start = start.astimezone(timezone.utc)
	remaining = duration
	for begin, end in intervals(cal, start):
		begin = max(begin, start)
		if remaining <= end - begin:
			return begin + remaining
		remaining -= end - begin
	raise AssertionError("unreachable")  # intervals() raises first


def working_between(a: datetime, b: datetime, cal: Calendar) -> timedelta:
	"""Working time from `a` to `b`; -working_between(b, a) when b is before a."""
	_check_aware(a)
	_check_aware(b)
	# In UTC: Python subtracts two datetimes of the same tzinfo by their wall clocks.
	a, b = a.astimezone(timezone.utc), b.astimezone(timezone.utc)
	if b < a:
		return -working_between(b, a, cal)
	total = ZERO
	for begin, end in intervals(cal, a):
		if begin >= b:
			break
		total += min(end, b) - max(begin, a)
	return total


def is_working(instant: datetime, cal: Calendar) -> bool:
	"""Whether `instant` is inside working hours (both ends of an interval count)."""
	for begin, end in intervals(cal, instant - timedelta(microseconds=1)):
		return begin <= instant <= end
	return False


def _check_aware(value: datetime):
	if value.tzinfo is None or value.utcoffset() is None:
		raise ValueError("working-time arithmetic needs timezone-aware datetimes")


def aware(naive: datetime, tz: str) -> datetime:
	"""A naive wall time (as Frappe stores Datetime fields, in the site's timezone) made aware."""
	return naive.replace(tzinfo=ZoneInfo(tz)) if naive.tzinfo is None else naive


def naive(instant: datetime, tz: str) -> datetime:
	"""An aware instant as the naive wall time of `tz` (to store in a Frappe Datetime field)."""
	return instant.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
