# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

from case_threads.reports import response_times


def execute(filters=None):
	return response_times(filters)
