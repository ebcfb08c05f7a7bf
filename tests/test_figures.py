"""Table tests of the report and card figures (F26, case_threads.core.figures)."""

from datetime import date, datetime

import pytest

from case_threads.core.figures import (
	CaseTimes,
	Waiting,
	aging,
	median,
	percentage,
	percentile,
	period_start,
	summarize_groups,
)


@pytest.mark.parametrize(
	"values, expected",
	[
		([], None),
		([None], None),
		([5], 5),
		([3, 1], 2),
		([1, 9, 3], 3),
		([4, 1, 3, 2], 2.5),
		([1, None, 3], 2),
	],
)
def test_median(values, expected):
	assert median(values) == expected


@pytest.mark.parametrize(
	"values, p, expected",
	[
		([], 90, None),
		([7], 90, 7),
		(list(range(1, 11)), 90, 9),  # rank ceil(9.0) = 9
		(list(range(1, 12)), 90, 10),  # rank ceil(9.9) = 10
		(list(range(1, 21)), 90, 18),
		([10, 20, 30], 90, 30),
		([30, 10, 20], 50, 20),
		([1, 2], 0, 1),
	],
)
def test_percentile_nearest_rank(values, p, expected):
	assert percentile(values, p) == expected


def test_percentage():
	assert percentage(0, 0) is None
	assert percentage(1, 3) == 33.3
	assert percentage(2, 3) == 66.7
	assert percentage(3, 3) == 100.0


@pytest.mark.parametrize(
	"day, period, expected",
	[
		(date(2026, 12, 3), "Day", date(2026, 12, 3)),
		(datetime(2026, 12, 3, 15), "Week", date(2026, 11, 30)),  # Thursday → Monday
		(date(2026, 11, 30), "Week", date(2026, 11, 30)),
		(date(2026, 12, 31), "Month", date(2026, 12, 1)),
		(date(2026, 12, 31), "Year", date(2026, 1, 1)),
	],
)
def test_period_start(day, period, expected):
	assert period_start(day, period) == expected


def test_period_start_rejects_unknown():
	with pytest.raises(ValueError):
		period_start(date(2026, 1, 1), "Fortnight")


def test_summarize_groups_and_total():
	cases = [
		CaseTimes("b", 60, 600, "Fulfilled", reopened=True),
		CaseTimes("a", 30, None, "Failed", cloned=True),
		CaseTimes("a", 90, 300, "Fulfilled"),
		CaseTimes("a", None, None, "First Response Due", merged=True),
		CaseTimes(None, 10, 100, None),
	]
	a, b, none, total = summarize_groups(cases)
	assert (a.group, a.cases, a.median_first_response, a.p90_first_response) == ("a", 3, 60, 90)
	assert (a.median_resolution, a.sla_fulfilled_pct, a.reopened, a.cloned, a.merged) == (300, 50.0, 0, 1, 1)
	assert (b.group, b.cases, b.median_resolution, b.sla_fulfilled_pct, b.reopened) == ("b", 1, 600, 100.0, 1)
	assert (none.group, none.cases, none.sla_fulfilled_pct) == (None, 1, None)
	assert total.group is None and total.cases == 5
	assert total.median_first_response == 45  # 10 30 60 90
	assert total.p90_first_response == 90
	assert total.median_resolution == 300  # 100 300 600
	assert total.sla_fulfilled_pct == 66.7
	assert (total.reopened, total.cloned, total.merged) == (1, 1, 1)
	assert summarize_groups([]) == []


def test_aging_per_mailbox():
	now = datetime(2026, 12, 2, 12)
	rows = [
		Waiting("sales", "No Route", datetime(2026, 12, 2, 6)),
		Waiting("support", "Bulk", datetime(2026, 12, 1, 12)),
		Waiting("support", "No Route", datetime(2026, 12, 2, 0)),
		Waiting("support", "Bulk", datetime(2026, 12, 2, 11)),
	]
	sales, support = aging(rows, now)
	assert (sales.mailbox, sales.waiting, sales.oldest_age_hours, sales.by_reason) == (
		"sales",
		1,
		6.0,
		{"No Route": 1},
	)
	assert (support.waiting, support.oldest, support.oldest_age_hours) == (3, datetime(2026, 12, 1, 12), 24.0)
	assert support.by_reason == {"Bulk": 2, "No Route": 1}
	assert aging([], now) == []


def test_period_starts_and_bucket():
	from case_threads.core.figures import bucket, period_starts

	assert period_starts(date(2026, 12, 3), "Day", 3) == [
		date(2026, 12, 1),
		date(2026, 12, 2),
		date(2026, 12, 3),
	]
	assert period_starts(date(2026, 12, 3), "Week", 2) == [date(2026, 11, 23), date(2026, 11, 30)]
	starts = period_starts(date(2026, 12, 3), "Day", 2)
	items = [
		(datetime(2026, 12, 2, 23, 59), "a"),
		(datetime(2026, 12, 3, 0, 0), "b"),
		(datetime(2026, 12, 3, 12), "c"),
		(datetime(2026, 12, 1, 12), "too old"),
		(None, "no date"),
	]
	assert bucket(items, starts, "Day") == [["a"], ["b", "c"]]


def test_sum_counts_adds_a_group_by_answer_per_period():
	from case_threads.core.figures import period_starts, sum_counts

	starts = period_starts(date(2027, 3, 10), "Week", 2)  # weeks of 1 and 8 March 2027
	counts = [
		(date(2027, 3, 1), "Fulfilled", 2),
		(date(2027, 3, 7), "Fulfilled", 3),
		(date(2027, 3, 8), "Failed", 1),
		(date(2027, 2, 28), "Failed", 9),  # before the first week: dropped
		(None, "Failed", 4),
	]
	assert sum_counts(counts, starts, "Week") == [5, 1]
	assert sum_counts([], starts, "Week") == [0, 0]


@pytest.mark.parametrize("values", [[], [7], [3, 1], [5, 1, 9], [4, 8, 1, 2], [2, 2, 2, 9, 9]])
def test_median_ranks_pick_the_values_whose_median_is_the_median(values):
	from case_threads.core.figures import median_ranks

	ordered = sorted(values)
	assert median([ordered[r] for r in median_ranks(len(values))]) == median(values)
