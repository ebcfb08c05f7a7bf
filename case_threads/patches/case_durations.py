"""Case.first_response_time / resolution_time (issue 17): working time, stored when it happens.

first_response_time used to hold wall seconds from creation to the first answer; it is now working
time on the case's service level calendar like the new resolution_time, which the dashboard and the
Case Response Times report read instead of recomputing it per case. Every case with a first answer
or a resolution gets both, in batches (case_threads.sla.backfill_durations).
"""

from case_threads.sla import backfill_durations


def execute():
	backfill_durations()
