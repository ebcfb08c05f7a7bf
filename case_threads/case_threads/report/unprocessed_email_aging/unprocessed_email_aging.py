# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

from case_threads.reports import unprocessed_aging


def execute(filters=None):
	return unprocessed_aging(filters)
