"""Issue 18: no mail lost when a pull dies, through real Dovecot (IMAP and POP3) and this site.

Frappe's own pull job is killed with SIGKILL at random points, cut from the database (KILL of its
connection from another session), cut from the mail server (Dovecot stopped mid-fetch, then
started again), and given a mail that kills it every time; then normal pulls run until the
mailbox is quiet. After each: every delivered mail is in exactly one place (a Communication, on a
Case or in Unprocessed Email, or an Unhandled Email), no Case is doubled, and no error reached the
pull loop.

    CASE_THREADS_FAULTS_LONG=1   the long SIGKILL run (≥ 5 kills over ≥ 500 mails) instead of the short
    CASE_THREADS_BARE_SITE=site  the same SIGKILL run on a site without the app, printed as contrast
"""

import contextlib
import os
import random
import secrets
import time
from unittest.mock import patch

import frappe
from frappe.email.receive import InboundMail
from frappe.tests.utils import FrappeTestCase
from frappe.utils import now_datetime

from case_threads.case_threads.doctype.email_route.email_route import ROUTES_CACHE_KEY
from case_threads.core.settle import MAX_ATTEMPTS
from case_threads.mail.email_account import DeferringEmailServer
from case_threads.tests import pull_faults as faults
from case_threads.tests.mail_servers import dovecot, require_mail_servers
from case_threads.tests.scenario import DISPOSITION, SETTINGS, ensure_disposition, mailbox_account

LONG = os.environ.get("CASE_THREADS_FAULTS_LONG") == "1"
BARE_SITE = os.environ.get("CASE_THREADS_BARE_SITE")
SEED = int(os.environ.get("CASE_THREADS_FAULTS_SEED") or secrets.randbelow(10**6))
BOXES = ("kill", "bare", "db", "stop", "pop", "poison", "rq")
# The RQ worker of the timeout test listens on a Redis database of its own, never the bench's shared
# queue (other sites' jobs): set CASE_THREADS_REDIS_QUEUE to choose another one.
REDIS_QUEUE = os.environ.get("CASE_THREADS_REDIS_QUEUE") or "redis://127.0.0.1:6379/11"


class TestPullFaults(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		require_mail_servers()
		cls.domain = f"faults{secrets.token_hex(3)}.test"
		cls.users = {box: f"{box}@{cls.domain}" for box in BOXES}
		cls.servers = contextlib.ExitStack()
		cls.imap = cls.servers.enter_context(
			dovecot({user: secrets.token_urlsafe(12) for user in cls.users.values()}, pop3=True)
		)
		settings = frappe.get_single("Case Threads Settings")
		settings.update(SETTINGS)
		settings.save(ignore_permissions=True)
		ensure_disposition()
		cls.route = (
			frappe.get_doc(
				{
					"doctype": "Email Route",
					"route_name": f"Faults {cls.domain}",
					"address_pattern": f"*@{cls.domain}",
					"sequence": 10,
				}
			)
			.insert(ignore_permissions=True)
			.name
		)
		frappe.db.commit()
		cls.accounts = []
		print(f"\n[pull faults] seed {SEED} (CASE_THREADS_FAULTS_SEED to replay)")

	@classmethod
	def tearDownClass(cls):
		frappe.db.rollback()
		for account in cls.accounts:
			frappe.db.set_value("Email Account", account, "enable_incoming", 0)
		frappe.db.set_value("Email Route", cls.route, "enabled", 0)
		frappe.cache.delete_value(ROUTES_CACHE_KEY)
		frappe.db.commit()
		cls.servers.close()
		super().tearDownClass()

	def setUp(self):
		frappe.db.commit()
		self.since = now_datetime()
		self.rng = random.Random(f"{SEED}-{self._testMethodName}")

	def account(self, box):
		account = mailbox_account(self.imap, self.users[box])
		self.accounts.append(account)
		return account

	def pop_account(self, box):
		user = self.users[box]
		doc = frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": f"POP {user}",
				"email_id": user,
				"password": self.imap.users[user],
				"enable_incoming": 1,
				"use_imap": 0,
				"email_server": self.imap.host,
				"incoming_port": self.imap.pop_port,
				"use_ssl": 0,
				"use_starttls": 0,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
		self.accounts.append(doc.name)
		return doc.name

	# -- what every fault must leave ------------------------------------------------------------

	def assert_exactly_once(self, account, mails):
		lost, doubled = faults.lost_and_doubled(account, mails)
		self.assertEqual(
			([mails[i].subject for i in lost], [mails[i].subject for i in doubled]),
			([], []),
			"lost / doubled mails",
		)
		# Each Communication the app decided is on a Case or in Unprocessed Email, and each new mail
		# (one customer each) made exactly one Case.
		loose = frappe.db.sql(
			"""select c.name from `tabCommunication` c
			left join `tabUnprocessed Email` u on u.communication = c.name
			where c.email_account = %s and c.sent_or_received = 'Received'
				and coalesce(c.reference_doctype, '') != 'Case' and u.name is null""",
			account,
		)
		self.assertEqual(loose, ())
		for mail in mails:
			if mail.subject.startswith("Order "):
				sender = mail.sender.lower()
				self.assertEqual(frappe.db.count("Case", {"raised_by": sender}), 1, sender)

	def assert_no_errors(self, account):
		# This account's errors (Email Account.log_error names it): other test runs on the site log too.
		errors = frappe.get_all(
			"Error Log",
			filters={"creation": (">=", self.since), "reference_name": account},
			fields=["method", "error"],
		)
		self.assertEqual([(e.method, (e.error or "")[-300:]) for e in errors], [])
		self.assertEqual(frappe.db.count("Unhandled Email", {"email_account": account}), 0)

	def closed_cases(self, box, account, count):
		"""`count` Cases of this mailbox, each made by one pulled mail, then Closed."""
		user = self.users[box]
		firsts = [
			faults.sent(
				faults.build_mail(f"Closed {self.domain} {i}", f"closed{i}.{box}@customer.test", to=user)
			)
			for i in range(count)
		]
		for mail in firsts:
			self.imap.deliver(user, mail.raw)
		faults.pull_until_quiet(self.imap, user, account)
		cases = []
		for mail in firsts:
			name = frappe.db.get_value("Communication", {"message_id": mail.message_id}, "reference_name")
			case = frappe.get_doc("Case", name)
			case.status, case.disposition = "Closed", DISPOSITION
			case.save(ignore_permissions=True)
			cases.append((case.name, mail))
		frappe.db.commit()
		return cases

	# -- SIGKILL --------------------------------------------------------------------------------

	def test_sigkill_during_pulls_loses_and_doubles_nothing(self):
		count, kills, closed = (500, 6, 40) if LONG else (120, 3, 6)
		box = "kill"
		account = self.account(box)
		cases = self.closed_cases(box, account, closed)
		# Two replies to every Closed case: they must make one clone, never two.
		replies = [
			(first.subject, first.message_id, first.sender) for _case, first in cases for _ in range(2)
		]
		mails = faults.mixed_mails(f"k{SEED}", self.users[box], count, self.rng, replies_to=replies)
		lost, doubled, codes = faults.sigkill_run(self.imap, self.users[box], account, mails, kills, self.rng)
		print(
			f"[pull faults] with case_threads: {count} mails, {kills} SIGKILLs "
			f"(exit codes {codes}): {len(lost)} lost, {len(doubled)} doubled"
		)
		self.assertEqual([c for c in codes if c != -9], [], "every pull was really killed mid-way")
		self.assert_exactly_once(account, mails)
		for case, first in cases:
			clones = frappe.get_all("Case", filters={"cloned_from": case}, pluck="name")
			self.assertEqual(len(clones), 1, f"clones of {case}: {clones}")
			for mail in mails:
				if mail.subject == f"Re: {first.subject}":
					self.assertEqual(
						frappe.db.get_value(
							"Communication", {"message_id": mail.message_id}, "reference_name"
						),
						clones[0],
					)
		self.assert_no_errors(account)
		self.assertEqual(self.imap.unseen(self.users[box]), 0)

		if BARE_SITE:
			figures = faults.bare_contrast(BARE_SITE, self.imap, self.users["bare"], count, kills, SEED)
			print(f"[pull faults] bare Frappe ({BARE_SITE}), same run: {figures}")
		else:
			print(
				"[pull faults] bare Frappe contrast not run (set CASE_THREADS_BARE_SITE to a site without the app)"
			)

	# -- lost database connection ---------------------------------------------------------------

	def test_database_connection_killed_mid_pull(self):
		box = "db"
		account = self.account(box)
		user = self.users[box]
		mails = faults.mixed_mails(f"d{SEED}", user, 50, self.rng)
		for mail in mails:
			self.imap.deliver(user, mail.raw)
		process, errors, stop = faults.start_pulls(account)
		kills = 0
		try:
			while kills < 3 and self.imap.unseen(user):
				target = faults.received(account) + self.rng.randint(2, 12)
				while faults.received(account) < target and self.imap.unseen(user):
					self.assertTrue(process.is_alive())
					time.sleep(0.02)
				kills += self.kill_connection(process.connection_id.value)
			# The same process goes on pulling (nothing reached its loop) until the mailbox is empty.
			while self.imap.unseen(user) and process.is_alive():
				time.sleep(0.2)
		finally:
			stop.set()
			process.join(60)
		print(f"[pull faults] database connection killed {kills} times mid-pull")
		self.assertGreaterEqual(kills, 3)
		self.assertEqual(process.exitcode, 0)
		self.assertEqual(faults.drain(errors), [])
		faults.pull_until_quiet(self.imap, user, account)
		self.assert_exactly_once(account, mails)
		self.assert_no_errors(account)

	def kill_connection(self, connection):
		"""KILL the pulling process's database connection from this session, as a failover does."""
		try:
			frappe.db.sql(f"kill {int(connection)}")
		except Exception:
			return 0  # it had just reconnected: the next round kills the new one
		return 1

	# -- mail server stops ----------------------------------------------------------------------

	def test_imap_server_stopped_mid_fetch_and_mid_processing(self):
		box = "stop"
		account = self.account(box)
		user = self.users[box]
		all_mails = []
		for where in ("fetch", "processing", "fetch"):
			mails = faults.mixed_mails(f"s{SEED}{where}{len(all_mails)}", user, 25, self.rng)
			all_mails += mails
			for mail in mails:
				self.imap.deliver(user, mail.raw)
			at = self.rng.randint(3, 22)
			calls = {"n": 0}

			def stop_at(original):
				def wrapped(*args, **kwargs):
					calls["n"] += 1
					if calls["n"] == at:
						self.imap.stop()
					return original(*args, **kwargs)

				return wrapped

			if where == "fetch":
				target = (DeferringEmailServer, "retrieve_message")
			else:
				target = (InboundMail, "process")
			with patch.object(*target, stop_at(getattr(*target))):
				faults.pull(account)  # no exception: what was fetched is processed, nothing marked wrongly
			self.assertEqual(calls["n"] >= at, True)
			self.imap.start()
			faults.pull_until_quiet(self.imap, user, account)
			self.assert_exactly_once(account, all_mails)
		self.assert_no_errors(account)

	# -- POP ------------------------------------------------------------------------------------

	def test_pop_mailbox_killed_pulls_delete_only_committed_mail(self):
		box = "pop"
		account = self.pop_account(box)
		user = self.users[box]
		mails = faults.mixed_mails(f"p{SEED}", user, 40, self.rng)
		for mail in mails:
			self.imap.deliver(user, mail.raw)
		codes = []
		for _ in range(2):
			process, _errors, _stop = faults.start_pulls(account)
			codes.append(
				faults.kill_after(account, process, self.rng.randint(2, 25), self.rng, self.imap, user)
			)
		self.assertEqual(codes, [-9, -9])
		for _ in range(10):
			faults.pull(account)
			if self.imap.count(user) == 0:
				break
		print(f"[pull faults] POP: {len(mails)} mails, 2 SIGKILLs")
		self.assertEqual(self.imap.count(user), 0, "every committed mail was deleted from the server")
		self.assert_exactly_once(account, mails)
		self.assert_no_errors(account)

	# -- poison mail ----------------------------------------------------------------------------

	def test_mail_that_kills_every_pull_is_given_up_after_bounded_attempts(self):
		box = "poison"
		account = self.account(box)
		user = self.users[box]
		poison = f"Poison {SEED}"
		raws = [
			faults.build_mail(f"Order pz{SEED}-{i} arrived broken", f"pz{i}.{SEED}@customer.test", to=user)
			for i in range(6)
		]
		raws.insert(3, faults.build_mail(poison, f"poison.{SEED}@customer.test", to=user))
		mails = [faults.sent(raw) for raw in raws]
		for mail in mails:
			self.imap.deliver(user, mail.raw)
		codes = []
		for _ in range(MAX_ATTEMPTS + 1):
			process, errors, _stop = faults.start_pulls(account, pulls=1, crash_subject=poison)
			process.join(120)
			codes.append(process.exitcode)
		# It took its pull down MAX_ATTEMPTS times; the next pull gave up on it and went on.
		self.assertEqual(codes, [-9] * MAX_ATTEMPTS + [0])
		self.assertEqual(faults.drain(errors), [])
		frappe.db.commit()  # read what the pulls committed, not this transaction's snapshot
		kept = frappe.get_all(
			"Unhandled Email", filters={"email_account": account}, fields=["message_id", "reason"]
		)
		self.assertEqual([k.message_id.strip("<>") for k in kept], [mails[3].message_id])
		self.assertIn(f"{MAX_ATTEMPTS} attempts", kept[0].reason)
		self.assertEqual(
			frappe.db.get_value(
				"Inbound Mail Receipt", {"email_account": account, "uid": "4"}, ["status", "attempts"]
			),
			("Given Up", MAX_ATTEMPTS + 1),
		)
		self.assertEqual(self.imap.unseen(user), 0)
		lost, doubled = faults.lost_and_doubled(account, mails)
		self.assertEqual((lost, doubled), ([], []))

	# -- RQ job timeout -------------------------------------------------------------------------

	def test_rq_job_timeout_of_the_pull_job_through_a_real_worker(self):
		from frappe.email.doctype.email_account.email_account import pull_from_email_account
		from frappe.utils.background_jobs import enqueue
		from rq.job import Job
		from rq.registry import FailedJobRegistry, FinishedJobRegistry

		box = "rq"
		account = self.account(box)
		user = self.users[box]
		mails = faults.mixed_mails(f"q{SEED}", user, 130, self.rng)
		for mail in mails:
			self.imap.deliver(user, mail.raw)
		url = REDIS_QUEUE
		ours, timeouts, runs = [], [], []
		# Two jobs cut by their timeout; a job that ended first (its pull stopped early, e.g. a slow
		# IMAP login on a loaded machine) did not test the timeout: another is started, up to 5 in all.
		while len(timeouts) < 2 and len(runs) < 5:
			seconds = self.rng.randint(1, 3)  # shorter than one batch of 100 mails takes
			with faults.isolated_queue(url) as connection:
				job = enqueue(pull_from_email_account, "short", timeout=seconds, email_account=account)
				ours.append(job.id)
				code, output = faults.run_worker(url)
				self.assertEqual(code, 0, output)
				self.assertIn(f"worker redis db {url.rsplit('/', 1)[1]}", output)
				job = Job.fetch(job.id, connection=connection)
				timed_out = "JobTimeoutException" in (job.latest_result().exc_string or "")
				runs.append((seconds, job.get_status(), timed_out, self.imap.unseen(user), output[-1500:]))
				if timed_out:
					timeouts.append((seconds, job.get_status()))
					self.assertGreater(
						self.imap.unseen(user), 0, "the job timed out before the mailbox was empty"
					)
				# The worker ran our jobs only: nothing of the bench's shared queue.
				queue = job.origin
				ran = set(FinishedJobRegistry(queue, connection=connection).get_job_ids())
				ran |= set(FailedJobRegistry(queue, connection=connection).get_job_ids())
				self.assertIn(job.id, ran)
				sites = {Job.fetch(i, connection=connection).kwargs.get("site") for i in ran}
				self.assertEqual(sites, {frappe.local.site})
		self.assertEqual(
			len(timeouts), 2, f"jobs (timeout, status, timed out, unseen, worker output): {runs}"
		)
		print(f"[pull faults] RQ jobs (timeout, status, timed out): {[r[:3] for r in runs]}")
		faults.pull_until_quiet(self.imap, user, account)
		self.assert_exactly_once(account, mails)
		job = "frappe.email.doctype.email_account.email_account.pull_from_email_account"
		errors = [
			e
			for e in frappe.get_all(
				"Error Log",
				filters={"creation": (">=", self.since)},
				fields=["method", "error", "reference_name"],
			)
			if e.reference_name == account or e.method == job  # other runs on the site log too
		]
		# The only errors: the job runner's record of each timeout, after the pull stopped cleanly.
		self.assertEqual(
			[(e.method, "JobTimeoutException" in (e.error or "")) for e in errors],
			[("frappe.email.doctype.email_account.email_account.pull_from_email_account", True)]
			* len(errors),
		)
		self.assertEqual(frappe.db.count("Unhandled Email", {"email_account": account}), 0)
