"""The SLA state machine (F23): what each event does to a case's agreement."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from case_threads.core import sla
from case_threads.core.sla import (
	FAILED,
	FIRST_RESPONSE_DUE,
	FULFILLED,
	PAUSED,
	RESOLUTION_DUE,
	Agreement,
	Targets,
)
from case_threads.core.working_time import add_working, calendar, working_between

TZ = "Europe/Madrid"
H = timedelta(hours=1)
CAL = calendar(TZ, {d: [(time(9), time(17))] for d in range(5)})
TARGETS = Targets(response=8 * H, resolution=24 * H)


def at(day, hour, minute=0):
	"""December 2026: Tuesday 1st … Friday 4th, Monday 7th …"""
	return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo(TZ))


def opened(day=1, hour=10):
	return sla.start(at(day, hour), TARGETS, CAL)


def test_start_gives_due_times_in_working_hours():
	ag = opened()
	assert ag.response_by == at(2, 10)
	assert ag.resolution_by == at(4, 10)
	assert ag.agreement_status == FIRST_RESPONSE_DUE
	assert ag.due == ag.response_by


@pytest.mark.parametrize(
	("when", "status"),
	[((1, 12), RESOLUTION_DUE), ((2, 10), RESOLUTION_DUE), ((2, 10, 1), FAILED)],
)
def test_first_response_in_time_or_late(when, status):
	ag = sla.respond(opened(), at(*when))
	assert ag.agreement_status == status
	assert ag.first_responded_on == at(*when)
	# Only the first one counts.
	assert sla.respond(ag, at(3, 10)) == ag


def test_replied_pauses_and_customer_reply_pushes_both_due_times():
	ag = sla.respond(opened(), at(1, 12))
	ag = sla.on_status_change(ag, "Open", "Replied", at(1, 12), CAL)
	assert ag.agreement_status == PAUSED
	assert ag.on_hold_since == at(1, 12)
	assert ag.due is None
	resumed = sla.on_status_change(ag, "Replied", "Open", at(2, 11), CAL)
	held = working_between(at(1, 12), at(2, 11), CAL)
	assert held == 7 * H
	assert resumed.agreement_status == RESOLUTION_DUE
	assert resumed.resolution_by == add_working(at(4, 10), held, CAL) == at(4, 17)
	assert resumed.total_hold_time == held
	assert resumed.on_hold_since is None
	# The response target was met: it does not move.
	assert resumed.response_by == ag.response_by


def test_pause_before_the_first_response_moves_the_response_target_too():
	ag = sla.on_status_change(opened(), "Open", "Replied", at(1, 11), CAL)
	ag = sla.on_status_change(ag, "Replied", "Open", at(1, 13), CAL)
	assert ag.response_by == at(2, 12)
	assert ag.agreement_status == FIRST_RESPONSE_DUE


@pytest.mark.parametrize(
	("resolved", "status"),
	[((3, 16), FULFILLED), ((4, 10), FULFILLED), ((4, 10, 1), FAILED)],
)
def test_resolve_in_time_or_late(resolved, status):
	ag = sla.respond(opened(), at(1, 12))
	ag = sla.on_status_change(ag, "Open", "Resolved", at(*resolved), CAL)
	assert ag.agreement_status == status
	assert ag.due is None
	# Closing a resolved case changes nothing.
	assert sla.on_status_change(ag, "Resolved", "Closed", at(9, 9), CAL) == ag


def test_resolving_while_paused_is_judged_when_the_clock_stopped():
	ag = sla.respond(opened(), at(1, 12))
	ag = sla.on_status_change(ag, "Open", "Replied", at(3, 12), CAL)
	ag = sla.on_status_change(ag, "Replied", "Resolved", at(9, 12), CAL)
	assert ag.agreement_status == FULFILLED


def test_reopen_continues_the_resolution_clock():
	ag = sla.respond(opened(), at(1, 12))
	ag = sla.on_status_change(ag, "Open", "Resolved", at(2, 10), CAL)
	assert ag.agreement_status == FULFILLED
	ag = sla.on_status_change(ag, "Resolved", "Open", at(3, 10), CAL)
	# 8 working hours resolved: the resolution due time moves from Friday 10:00 to Monday 10:00.
	assert ag.agreement_status == RESOLUTION_DUE
	assert ag.resolution_by == at(7, 10)
	assert ag.total_hold_time == 8 * H


def test_breach_once_and_failed_stays_failed():
	ag = opened()
	assert not sla.breached(ag, at(2, 10))
	assert sla.breached(ag, at(2, 10, 1))
	failed = sla.breach(ag, at(2, 10, 1))
	assert failed.agreement_status == FAILED
	assert not sla.breached(failed, at(9, 9))
	assert sla.breach(failed, at(9, 9)) == failed
	# A late reply and a resolve in time do not make a failed agreement good.
	later = sla.respond(failed, at(2, 11))
	assert later.agreement_status == FAILED
	assert sla.on_status_change(later, "Open", "Resolved", at(2, 12), CAL).agreement_status == FAILED
	# A paused case does not breach while paused.
	paused = sla.on_status_change(opened(), "Open", "Replied", at(1, 11), CAL)
	assert not sla.breached(paused, at(30, 9))


def test_no_agreement_stays_none():
	none = Agreement()
	for new in ("Replied", "Open", "Resolved"):
		assert sla.on_status_change(none, "Open", new, at(1, 9), CAL) == none
	assert sla.respond(none, at(1, 9)) == none
	assert none.due is None


@pytest.mark.parametrize(
	("status", "due", "waited", "key"),
	[
		("Open", at(1, 9), at(1, 8), "020261201090000" + "20261201080000"),
		("Open", None, at(1, 8), "1" + "20261201080000"),
		("Replied", None, at(1, 8), "2" + "20261201080000"),
		("Resolved", None, at(1, 8), "9"),
	],
)
def test_relevance_key(status, due, waited, key):
	assert sla.relevance_key(status, due, waited) == key


def test_relevance_order_overdue_then_soonest_then_longest_waiting():
	cases = {
		"overdue": ("Open", at(1, 9), at(1, 8)),
		"due soon": ("Open", at(1, 15), at(1, 14)),
		"due later": ("Open", at(3, 9), at(1, 7)),
		"no policy, waited long": ("Open", None, at(1, 6)),
		"no policy, waited less": ("Open", None, at(1, 12)),
		"waiting on customer": ("Replied", None, at(1, 5)),
		"resolved": ("Resolved", None, at(1, 1)),
	}
	order = sorted(cases, key=lambda name: sla.relevance_key(*cases[name]))
	assert order == list(cases)


def test_sla_age_counts_working_time_while_the_customer_waits():
	assert sla.sla_age("Open", at(4, 16), at(7, 10), CAL) == 2 * H
	assert sla.sla_age("Replied", at(4, 16), at(7, 10), CAL) is None
	assert sla.sla_age("Open", None, at(7, 10), CAL) is None


# Property: however often the case waits on the customer, paused time never counts: the working
# time from opening to the resolution due time, less the working time on hold, is the target.
instants = st.datetimes(datetime(2026, 11, 1), datetime(2027, 2, 1), timezones=st.just(timezone.utc))


@settings(max_examples=150, deadline=None)
@given(instants, st.lists(st.tuples(st.integers(0, 3 * 24 * 60), st.integers(0, 5 * 24 * 60)), max_size=5))
def test_paused_time_never_counts(start, pauses):
	ag = sla.start(start, TARGETS, CAL)
	now, held = start, timedelta(0)
	for run, hold in pauses:
		now += timedelta(minutes=run)
		ag = sla.on_status_change(ag, "Open", "Replied", now, CAL)
		paused_at, now = now, now + timedelta(minutes=hold)
		ag = sla.on_status_change(ag, "Replied", "Open", now, CAL)
		held += working_between(paused_at, now, CAL)
	assert ag.total_hold_time == held
	assert working_between(start, ag.resolution_by, CAL) - held == TARGETS.resolution
	assert working_between(start, ag.response_by, CAL) - held == TARGETS.response
