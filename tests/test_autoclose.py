"""Table tests of the auto-close / auto-resolve decision (F25, case_threads.core.autoclose)."""

from datetime import datetime, timedelta

import pytest

from case_threads.core.autoclose import Rules, active_statuses, cutoff, next_status

NOW = datetime(2026, 12, 20, 2, 0)
DAY = timedelta(days=1)
DEFAULT = Rules()  # close after 7 days, auto-resolve off
BOTH = Rules(close_after_days=7, resolve_after_days=3)


@pytest.mark.parametrize(
	"status, last_update, entered, rules, expected",
	[
		# Resolved, quiet exactly 7 days: closes; a minute less: stays.
		("Resolved", NOW - 7 * DAY, NOW - 7 * DAY, DEFAULT, "Closed"),
		("Resolved", NOW - 7 * DAY + timedelta(minutes=1), NOW - 8 * DAY, DEFAULT, None),
		# Old customer mail, but resolved yesterday: the customer still has time to answer.
		("Resolved", NOW - 30 * DAY, NOW - DAY, DEFAULT, None),
		("Resolved", NOW - 30 * DAY, NOW - 10 * DAY, DEFAULT, "Closed"),
		# No resolved_on known: the customer's last mail counts.
		("Resolved", NOW - 9 * DAY, None, DEFAULT, "Closed"),
		# Mail the same day: stays.
		("Resolved", NOW - timedelta(hours=3), NOW - 9 * DAY, DEFAULT, None),
		# Nothing known at all: never guessed.
		("Resolved", None, None, DEFAULT, None),
		# Rule off.
		("Resolved", NOW - 99 * DAY, NOW - 99 * DAY, Rules(close_after_days=0), None),
		# Replied: off by default.
		("Replied", NOW - 99 * DAY, NOW - 99 * DAY, DEFAULT, None),
		("Replied", NOW - 5 * DAY, NOW - 3 * DAY, BOTH, "Resolved"),
		("Replied", NOW - 5 * DAY, NOW - 2 * DAY, BOTH, None),
		("Replied", NOW - 3 * DAY, None, BOTH, "Resolved"),
		# Other statuses never move.
		("Open", NOW - 99 * DAY, None, BOTH, None),
		("Closed", NOW - 99 * DAY, NOW - 99 * DAY, BOTH, None),
	],
)
def test_next_status(status, last_update, entered, rules, expected):
	assert next_status(status, last_update, entered, NOW, rules) == expected


def test_cutoff_and_active_statuses():
	assert cutoff("Resolved", NOW, DEFAULT) == NOW - 7 * DAY
	assert cutoff("Replied", NOW, DEFAULT) is None
	assert cutoff("Open", NOW, BOTH) is None
	assert active_statuses(DEFAULT) == ["Resolved"]
	assert active_statuses(BOTH) == ["Replied", "Resolved"]
	assert active_statuses(Rules(0, 0)) == []


def test_a_case_resolved_by_the_job_is_not_closed_in_the_same_run():
	# Auto-resolve stamps resolved_on = now, so the close rule sees a fresh Resolved case.
	assert next_status("Resolved", NOW - 30 * DAY, NOW, NOW, BOTH) is None
