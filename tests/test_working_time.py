"""Working-time arithmetic (F23): tables for the cases a person checks by hand, properties for the rest."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from case_threads.core.working_time import (
	Calendar,
	add_working,
	calendar,
	intervals,
	is_working,
	working_between,
)

MADRID = "Europe/Madrid"
H = timedelta(hours=1)
M = timedelta(minutes=1)
OFFICE = {d: [(time(9), time(17))] for d in range(5)}  # Monday-Friday 09:00-17:00


def local(tz, *args):
	return datetime(*args, tzinfo=ZoneInfo(tz))


def office(tz=MADRID, holidays=()):
	return calendar(tz, OFFICE, holidays)


# ---- tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
	("start", "duration", "due"),
	[
		# Inside one day.
		((2026, 12, 1, 9, 0), 8 * H, (2026, 12, 1, 17, 0)),
		((2026, 12, 1, 10, 30), 2 * H, (2026, 12, 1, 12, 30)),
		# Over the evening: 16:00 + 8h = 1h today, 7h tomorrow: 16:00.
		((2026, 12, 1, 16, 0), 8 * H, (2026, 12, 2, 16, 0)),
		# Before opening: the clock starts at 09:00.
		((2026, 12, 1, 6, 0), 1 * H, (2026, 12, 1, 10, 0)),
		# After closing: from the next morning.
		((2026, 12, 1, 20, 0), 1 * H, (2026, 12, 2, 10, 0)),
		# Friday afternoon over the weekend to Monday.
		((2026, 12, 4, 15, 0), 4 * H, (2026, 12, 7, 11, 0)),
		# Saturday: Monday morning.
		((2026, 12, 5, 12, 0), 30 * M, (2026, 12, 7, 9, 30)),
		# Three working days.
		((2026, 12, 1, 9, 0), 24 * H, (2026, 12, 3, 17, 0)),
		# Zero duration: the first working instant.
		((2026, 12, 5, 12, 0), timedelta(0), (2026, 12, 7, 9, 0)),
		((2026, 12, 1, 17, 0), timedelta(0), (2026, 12, 1, 17, 0)),
	],
)
def test_add_working_table(start, duration, due):
	assert add_working(local(MADRID, *start), duration, office()) == local(MADRID, *due)


def test_holiday_on_a_monday():
	# Monday 7 December 2026 is a holiday: Friday 16:00 + 2h is Tuesday 10:00, not Monday 10:00.
	cal = office(holidays=[date(2026, 12, 7)])
	assert add_working(local(MADRID, 2026, 12, 4, 16), 2 * H, cal) == local(MADRID, 2026, 12, 8, 10)
	assert working_between(local(MADRID, 2026, 12, 4, 9), local(MADRID, 2026, 12, 8, 17), cal) == 16 * H
	# Without the holiday the Monday counts.
	assert working_between(local(MADRID, 2026, 12, 4, 9), local(MADRID, 2026, 12, 8, 17), office()) == 24 * H
	assert not is_working(local(MADRID, 2026, 12, 7, 12), cal)
	assert is_working(local(MADRID, 2026, 12, 7, 12), office())


def test_dst_week_spring_forward_madrid():
	# Europe/Madrid goes from UTC+1 to UTC+2 on Sunday 29 March 2026 at 02:00.
	cal = office()
	friday = local(MADRID, 2026, 3, 27, 16)
	due = add_working(friday, 2 * H, cal)
	assert due == local(MADRID, 2026, 3, 30, 10)
	assert due.astimezone(ZoneInfo(MADRID)).utcoffset() == 2 * H
	assert due.astimezone(timezone.utc) == datetime(2026, 3, 30, 8, tzinfo=timezone.utc)
	# 167 real hours pass in that week of 168 wall hours; working time stays 40 hours.
	week = (local(MADRID, 2026, 3, 23, 0), local(MADRID, 2026, 3, 30, 0))
	assert working_between(*week, cal) == 40 * H
	assert week[1].astimezone(timezone.utc) - week[0].astimezone(timezone.utc) == 167 * H
	# Local (Madrid) instants on both sides of the change: counted in real time, not wall time.
	always = calendar(MADRID, {d: [(time(0), None)] for d in range(7)})
	assert working_between(local(MADRID, 2026, 3, 29, 1), local(MADRID, 2026, 3, 29, 4), always) == 2 * H


def test_dst_week_fall_back_madrid():
	# Back to UTC+1 on Sunday 25 October 2026 at 03:00; a 24h-a-day calendar counts 25 hours that day.
	cal = office()
	assert add_working(local(MADRID, 2026, 10, 23, 15), 3 * H, cal) == local(MADRID, 2026, 10, 26, 10)
	always = calendar(MADRID, {d: [(time(0), None)] for d in range(7)})
	sunday = (local(MADRID, 2026, 10, 25, 0), local(MADRID, 2026, 10, 26, 0))
	assert working_between(*sunday, always) == 25 * H
	spring = (local(MADRID, 2026, 3, 29, 0), local(MADRID, 2026, 3, 30, 0))
	assert working_between(*spring, always) == 23 * H


def test_dst_change_inside_working_hours():
	# A night shift 00:00-06:00 on the day the clock jumps from 02:00 to 03:00 is 5 real hours.
	cal = calendar(MADRID, {6: [(time(0), time(6))]})
	sunday = local(MADRID, 2026, 3, 29, 0)
	assert add_working(sunday, 5 * H, cal) == local(MADRID, 2026, 3, 29, 6)
	assert working_between(sunday, local(MADRID, 2026, 3, 29, 12), cal) == 5 * H


def test_timezones_differ():
	# The same UTC instant, 09:00 office hours in Madrid and in New York.
	utc_start = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)  # 15:00 Madrid, 09:00 New York
	assert add_working(utc_start, 3 * H, office(MADRID)) == local(MADRID, 2026, 12, 2, 10)
	assert add_working(utc_start, 3 * H, office("America/New_York")) == local(
		"America/New_York", 2026, 12, 1, 12
	)


def test_split_day_and_overlapping_hours_merge():
	cal = calendar(MADRID, {0: [(time(13), time(17)), (time(9), time(13, 30)), (time(18), time(19))]})
	assert cal.hours[0] == ((9 * 60, 17 * 60), (18 * 60, 19 * 60))
	assert add_working(local(MADRID, 2026, 12, 7, 16), 90 * M, cal) == local(MADRID, 2026, 12, 7, 18, 30)


def test_working_between_is_antisymmetric_and_zero_outside_hours():
	cal = office()
	a, b = local(MADRID, 2026, 12, 1, 10), local(MADRID, 2026, 12, 2, 11)
	assert working_between(a, b, cal) == 9 * H  # 10:00-17:00 and 09:00-11:00
	assert working_between(b, a, cal) == -9 * H
	night = (local(MADRID, 2026, 12, 1, 18), local(MADRID, 2026, 12, 2, 8))
	assert working_between(*night, cal) == timedelta(0)


def test_bad_calendars():
	with pytest.raises(ValueError):
		Calendar(MADRID, {})
	with pytest.raises(ValueError):
		Calendar(MADRID, {0: ((600, 500),)})
	with pytest.raises(KeyError):
		Calendar("Mars/Olympus", {0: ((0, 60),)})
	with pytest.raises(ValueError):
		add_working(datetime(2026, 12, 1), H, office())  # naive
	with pytest.raises(ValueError):
		add_working(local(MADRID, 2026, 12, 1), -H, office())


# ---- properties -----------------------------------------------------------------------------

# Zones with a daylight-saving change and one without. Their changes happen between 02:00 and
# 03:00 local; a span boundary inside that hour names no instant on the day of the change (so
# cannot be checked on the wall clock), hence boundaries are drawn outside it.
ZONES = ["Europe/Madrid", "America/New_York", "Asia/Kolkata", "UTC"]
QUARTERS = [q for q in range(0, 24 * 4 + 1) if not 8 < q < 12]


@st.composite
def calendars(draw):
	tz = draw(st.sampled_from(ZONES))
	hours = {}
	for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
		cuts = sorted(draw(st.sets(st.sampled_from(QUARTERS), min_size=2, max_size=6)))
		spans = [(cuts[i] * 15, cuts[i + 1] * 15) for i in range(0, len(cuts) - 1, 2)]
		hours[weekday] = tuple(spans)
	holidays = draw(st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=20))
	return Calendar(tz, hours, frozenset(holidays))


instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(timezone.utc))
durations = st.timedeltas(timedelta(0), timedelta(days=3)).map(
	lambda d: timedelta(seconds=int(d.total_seconds()))
)
positive = durations.filter(lambda d: d > timedelta(0))


def on_the_wall(instant, cal):
	"""Independent check by the wall clock: the local time lies within a span of its local day
	(or is the midnight that ends a span of the day before)."""
	zone = ZoneInfo(cal.tz)
	wall = instant.astimezone(zone)
	minute = wall.hour * 60 + wall.minute + (wall.second + wall.microsecond / 1e6) / 60
	day = wall.date()
	ok = day not in cal.holidays and any(s <= minute <= e for s, e in cal.hours.get(day.weekday(), ()))
	if not ok and minute == 0:
		before = day - timedelta(days=1)
		ok = before not in cal.holidays and any(e == 1440 for _, e in cal.hours.get(before.weekday(), ()))
	return ok


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, durations)
def test_due_time_never_outside_working_hours(cal, start, duration):
	due = add_working(start, duration, cal)
	assert due >= start
	assert on_the_wall(due, cal)
	assert is_working(due, cal)


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, durations, durations)
def test_adding_a_then_b_equals_adding_a_plus_b(cal, start, a, b):
	assert add_working(add_working(start, a, cal), b, cal) == add_working(start, a + b, cal)


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, durations)
def test_working_time_to_the_due_time_is_the_duration(cal, start, duration):
	assert working_between(start, add_working(start, duration, cal), cal) == duration


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, instants, instants)
def test_working_between_is_additive(cal, a, b, c):
	a, b, c = sorted((a, b, c))
	assert working_between(a, c, cal) == working_between(a, b, cal) + working_between(b, c, cal)
	assert working_between(a, b, cal) <= b - a


@settings(max_examples=200, deadline=None)
@given(calendars(), instants, positive)
def test_time_outside_working_hours_never_counts(cal, start, duration):
	# Between the end of one working span and the start of the next, nothing is counted.
	spans = intervals(cal, start)
	first_end = next(spans)[1]
	next_start = next(spans)[0]
	assume(next_start > first_end)
	assert working_between(first_end, next_start, cal) == timedelta(0)
	assert add_working(first_end, duration, cal) == add_working(next_start, duration, cal)
