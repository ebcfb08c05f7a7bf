"""Issue 19, real workers: Frappe's own scheduler job (email_account.pull, enqueued as the scheduler
does) pulls several Dovecot mailboxes through real worker processes (Frappe's start_worker = `bench
worker`, RQ), 1 and then 2 of them. Every mail ends in exactly one place (a Case, Unprocessed Email
or Unhandled Email), no Message-ID has two Communications, replies thread onto the cases of other
mailboxes (pulled by other workers), no Error Log but the one beside each Unhandled Email, and no
job is left queued, running or failed.

    CASE_THREADS_WORKER_MAILS=500      mails per mailbox (the long variant; default 24)
    CASE_THREADS_WORKER_BOXES=4        mailboxes per round
    CASE_THREADS_WORKER_REDIS=url      the workers' Redis database (default db 12: never the bench's
                                       shared queue, nor test_pull_faults' db 11); emptied first
    CASE_THREADS_WORKER_SETUP=dotted   a function each worker calls first (the break-it check:
                                       case_threads.tests.worker_runs.break_message_id_lock)
"""

import os
import random
import secrets

import frappe
from frappe.tests.utils import FrappeTestCase

from case_threads.tests import worker_runs
from case_threads.tests.mail_servers import require_mail_servers

MAILS = int(os.environ.get("CASE_THREADS_WORKER_MAILS") or 24)
BOXES = int(os.environ.get("CASE_THREADS_WORKER_BOXES") or 4)
REDIS_QUEUE = os.environ.get("CASE_THREADS_WORKER_REDIS") or "redis://127.0.0.1:6379/12"
SETUP = os.environ.get("CASE_THREADS_WORKER_SETUP") or ""
SEED = int(os.environ.get("CASE_THREADS_WORKER_SEED") or secrets.randbelow(10**6))


class TestRealWorkers(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		require_mail_servers()
		cls.world = worker_runs.world(2, BOXES, REDIS_QUEUE)
		cls.imap, cls.domain = cls.world.__enter__()
		cls.corpus = worker_runs.corpus_mails()
		print(f"\n[workers] seed {SEED} (CASE_THREADS_WORKER_SEED to replay), {BOXES} x {MAILS} mails")

	@classmethod
	def tearDownClass(cls):
		cls.world.__exit__(None, None, None)
		super().tearDownClass()

	def pulled_by(self, workers, number):
		rng = random.Random(f"{SEED}-{workers}")
		rnd = worker_runs.prepare(self.imap, self.domain, number, BOXES, MAILS, rng, self.corpus)
		worker_runs.run(self.imap, rnd, workers, REDIS_QUEUE, setup=SETUP)
		kinds = worker_runs.outcome(rnd)
		problems = worker_runs.check(rnd)
		print(
			f"[workers] {workers} worker(s): {rnd.delivered} mails in {rnd.seconds:.1f} s "
			f"({rnd.delivered / rnd.seconds:.1f} mails/s), jobs {dict(rnd.jobs)}; "
			f"Frappe's own Contact errors {dict(getattr(rnd, 'frappe_contact_errors', {}))}; "
			+ ", ".join(f"{kind}: {dict(places)}" for kind, places in sorted(kinds.items()))
		)
		self.assertEqual(problems, {})
		# The mix really had each kind, and each went where it belongs.
		self.assertEqual(set(kinds["unrouted"]), {"Unprocessed"})
		self.assertEqual(set(kinds["no_from"]), {"Unhandled"})
		self.assertEqual(set(kinds["new"]) | set(kinds["shared"]) | set(kinds["reply"]), {"Case"})
		self.assertIn("clone_reply", kinds)
		if self.corpus:
			self.assertGreater(sum(kinds["corpus"].values()), 0)
		# The pulls went through the workers: Frappe's scheduler job, then one job per mailbox pull.
		jobs = {name: n for (site, name), n in rnd.jobs.items() if site == frappe.local.site}
		self.assertEqual(set(rnd.jobs), {(frappe.local.site, name) for name in jobs})
		self.assertGreaterEqual(jobs.get("pull_from_email_account", 0), BOXES * -(-MAILS // 100))
		self.assertGreaterEqual(jobs.get(worker_runs.SCHEDULER_JOB, 0), 1)
		return rnd

	def test_scheduler_pulls_mailboxes_through_one_then_two_workers(self):
		self.pulled_by(1, 0)
		self.pulled_by(2, 1)
