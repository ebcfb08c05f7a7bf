"""The service-level agreement of one case as a state machine on plain values (F23).

Given the agreement as it is and what happened (the case opened, the first agent reply, a status
change, the clock passing a due time) each function returns the agreement as it must be. Due times
are in working time (case_threads.core.working_time); while the clock is stopped (`on_hold_since`:
the case waits on the customer, or is resolved) nothing counts, and resuming pushes both due times
out by the working time the clock stood still, kept in `total_hold_time`.

A Failed agreement stays Failed (a missed target cannot be made good); reopening a Fulfilled case
continues its resolution clock from where it stopped.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from case_threads.core.working_time import Calendar, add_working, working_between

FIRST_RESPONSE_DUE = "First Response Due"
RESOLUTION_DUE = "Resolution Due"
PAUSED = "Paused"
FULFILLED = "Fulfilled"
FAILED = "Failed"
STATUSES = (FIRST_RESPONSE_DUE, RESOLUTION_DUE, PAUSED, FULFILLED, FAILED)
# Agreements whose clock runs toward a target that has not been missed yet (the breach job's set).
RUNNING = (FIRST_RESPONSE_DUE, RESOLUTION_DUE)

ZERO = timedelta(0)
# Case statuses (case_threads.core.lifecycle.CaseStatus values).
OPEN, REPLIED, RESOLVED, CLOSED = "Open", "Replied", "Resolved", "Closed"
DONE = (RESOLVED, CLOSED)


@dataclass(frozen=True)
class Targets:
	response: timedelta
	resolution: timedelta


@dataclass(frozen=True)
class Agreement:
	response_by: datetime | None = None
	resolution_by: datetime | None = None
	first_responded_on: datetime | None = None
	agreement_status: str | None = None
	on_hold_since: datetime | None = None
	total_hold_time: timedelta = ZERO

	@property
	def due(self) -> datetime | None:
		"""The due time the clock is running toward now (None while stopped or without agreement)."""
		if self.agreement_status is None or self.on_hold_since is not None:
			return None
		if self.agreement_status not in (*RUNNING, FAILED):
			return None
		return self.resolution_by if self.first_responded_on else self.response_by

	def _running_status(self) -> str:
		if self.agreement_status == FAILED:
			return FAILED
		return RESOLUTION_DUE if self.first_responded_on else FIRST_RESPONSE_DUE


def start(opened: datetime, targets: Targets, cal: Calendar) -> Agreement:
	"""A fresh agreement for a case opened at `opened` (a new case, or a clone)."""
	return Agreement(
		response_by=add_working(opened, targets.response, cal),
		resolution_by=add_working(opened, targets.resolution, cal),
		agreement_status=FIRST_RESPONSE_DUE,
	)


def respond(ag: Agreement, when: datetime) -> Agreement:
	"""The first agent reply: the response target is met (or missed) once."""
	if ag.agreement_status is None or ag.first_responded_on:
		return ag
	# Answered while the clock stood still: compared at the instant it stopped.
	late = ag.response_by is not None and (ag.on_hold_since or when) > ag.response_by
	ag = replace(ag, first_responded_on=when)
	if late:
		return replace(ag, agreement_status=FAILED)
	if ag.agreement_status == FIRST_RESPONSE_DUE:
		return replace(ag, agreement_status=RESOLUTION_DUE)
	return ag


def pause(ag: Agreement, when: datetime) -> Agreement:
	"""The case waits on the customer: the clock stops."""
	if ag.agreement_status is None or ag.on_hold_since is not None:
		return ag
	status = ag.agreement_status if ag.agreement_status in (FAILED, FULFILLED) else PAUSED
	return replace(ag, on_hold_since=when, agreement_status=status)


def resume(ag: Agreement, when: datetime, cal: Calendar) -> Agreement:
	"""The clock runs again; both due times move out by the working time it stood still."""
	if ag.agreement_status is None or ag.on_hold_since is None:
		return ag
	held = max(working_between(ag.on_hold_since, when, cal), ZERO)
	return replace(
		ag,
		response_by=ag.response_by
		if ag.first_responded_on or ag.response_by is None
		else add_working(ag.response_by, held, cal),
		resolution_by=None if ag.resolution_by is None else add_working(ag.resolution_by, held, cal),
		total_hold_time=ag.total_hold_time + held,
		on_hold_since=None,
		agreement_status=ag._running_status(),
	)


def resolve(ag: Agreement, when: datetime) -> Agreement:
	"""Resolved or closed: Fulfilled when every target was met at the moment the clock stopped."""
	if ag.agreement_status is None:
		return ag
	stopped = ag.on_hold_since or when
	missed = (ag.resolution_by is not None and stopped > ag.resolution_by) or (
		not ag.first_responded_on and ag.response_by is not None and stopped > ag.response_by
	)
	status = FAILED if ag.agreement_status == FAILED or missed else FULFILLED
	return replace(ag, agreement_status=status, on_hold_since=stopped)


def on_status_change(ag: Agreement, old: str | None, new: str, when: datetime, cal: Calendar) -> Agreement:
	"""What a change of the case's status does to its agreement."""
	if old == new:
		return ag
	if new in DONE:
		return ag if old in DONE else resolve(ag, when)
	if new == OPEN:
		return resume(ag, when, cal)
	if new == REPLIED:
		return pause(resume(ag, when, cal) if old in DONE else ag, when)
	return ag


def breached(ag: Agreement, now: datetime) -> bool:
	"""Whether the clock has run past a target not yet marked Failed (what the breach job marks)."""
	return ag.agreement_status in RUNNING and ag.due is not None and ag.due < now


def breach(ag: Agreement, now: datetime) -> Agreement:
	return replace(ag, agreement_status=FAILED) if breached(ag, now) else ag


# The Relevance order of the Active view: overdue first, then soonest due (one ascending order of
# the running due time does both), then cases whose customer is not waiting on a due time, longest
# waiting first, then the cases that wait on the customer, then finished ones.
def relevance_key(case_status: str, due: datetime | None, last_customer_update: datetime | None) -> str:
	waited = _stamp(last_customer_update)
	if case_status in DONE:
		return "9"
	if case_status == OPEN and due is not None:
		return f"0{_stamp(due)}{waited}"
	return f"{1 if case_status == OPEN else 2}{waited}"


def _stamp(value: datetime | None) -> str:
	# Naive site-timezone values from the database and aware ones sort the same within one site.
	return value.strftime("%Y%m%d%H%M%S") if value else "99999999999999"


def sla_age(case_status: str, last_customer_update: datetime | None, now: datetime, cal: Calendar):
	"""How long the customer has been waiting on us, in working time (None when we wait on them)."""
	if case_status != OPEN or last_customer_update is None:
		return None
	return max(working_between(last_customer_update, now, cal), ZERO)
