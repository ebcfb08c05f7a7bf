"""Several processes, each with its own database connection, start one job at the same moment while
one function of the app is slowed down, so that the others surely run into it (F5, F8 races)."""

import contextlib
import importlib
import multiprocessing
import time
from unittest.mock import patch

import frappe


def _run_slowed(site, sites_path, job, args, slow, delay, barrier, spans):
	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	frappe.flags.in_test = True
	try:
		with contextlib.ExitStack() as stack:
			if slow:
				target = importlib.import_module(slow[0])
				original = getattr(target, slow[1])

				def delayed(*a, **kw):
					time.sleep(delay)
					return original(*a, **kw)

				stack.enter_context(patch.object(target, slow[1], side_effect=delayed))
			barrier.wait(timeout=60)
			started = time.time()
			job(*args)
			spans.put((started, time.time()))
	finally:
		frappe.destroy()


def run_at_once(test, job, arg_lists, slow, delay):
	"""`job(*args)` for every entry of `arg_lists`, each in a spawned process, released together,
	with `slow` = (module, attribute) delayed by `delay` seconds. Asserts every process exited
	cleanly; returns their (started, ended) times."""
	ctx = multiprocessing.get_context("spawn")
	barrier, spans = ctx.Barrier(len(arg_lists)), ctx.Queue()
	site, sites_path = frappe.local.site, frappe.local.sites_path
	workers = [
		ctx.Process(target=_run_slowed, args=(site, sites_path, job, args, slow, delay, barrier, spans))
		for args in arg_lists
	]
	for worker in workers:
		worker.start()
	for worker in workers:
		worker.join(timeout=120)
	test.assertEqual([w.exitcode for w in workers], [0] * len(workers))
	times = [spans.get(timeout=5) for _ in workers]
	frappe.db.commit()  # read what the workers committed, not this transaction's snapshot
	return times
