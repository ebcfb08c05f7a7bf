"""Fault runs for issue 18 ("no mail lost when a pull dies"), usable on any site: with the app (the
test asserts) or without it (bare Frappe: the test prints what it loses).

A mailbox on the tests' own Dovecot gets a batch of mails; Frappe's pull job runs in spawned child
processes that are killed with SIGKILL (or cut from the database) once they have committed a random
number of mails; then normal pulls run until the mailbox is quiet, and `places` counts where each
delivered mail ended: Communications (which the app puts on a Case or in Unprocessed Email) and
Unhandled Emails. 0 places = lost, more than 1 = doubled.
"""

import contextlib
import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass
from email import message_from_bytes

import frappe
from frappe.email.doctype.email_account.email_account import pull_from_email_account

from case_threads.tests.mail_servers import Dovecot
from case_threads.tests.utils import build_mail

SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Sent:
	"""One delivered mail and how to find it again."""

	raw: bytes
	message_id: str | None  # without <>; None for mail that has no Message-ID
	subject: str
	sender: str


def sent(raw):
	msg = message_from_bytes(raw)
	message_id = (msg["Message-ID"] or "").strip().strip("<>") or None
	return Sent(raw, message_id, str(msg["Subject"]), str(msg["From"]))


def without_message_id(raw):
	msg = message_from_bytes(raw)
	del msg["Message-ID"]
	return msg.as_bytes()


def mixed_mails(tag, to, count, rng, replies_to=(), no_id_every=15):
	"""`count` mails for mailbox `to`: new mails from distinct customers, every `no_id_every`-th one
	without a Message-ID, and one reply per entry of `replies_to` ((subject, message_id, sender))."""
	mails = [
		build_mail(
			f"Re: {subject}", sender, to=to, in_reply_to=f"<{message_id}>", references=f"<{message_id}>"
		)
		for subject, message_id, sender in replies_to
	]
	for i in range(count - len(mails)):
		raw = build_mail(f"Order {tag}-{i} arrived broken", f"c{i}.{tag}@customer.test", to=to)
		mails.append(without_message_id(raw) if i % no_id_every == no_id_every - 1 else raw)
	rng.shuffle(mails)
	return [sent(raw) for raw in mails]


def pull(account):
	"""What the scheduler's job does for one Email Account, committed as the job runner does."""
	pull_from_email_account(account)
	frappe.db.commit()


def received(account):
	"""Mails of `account` committed so far (as another session sees them)."""
	frappe.db.commit()
	return frappe.db.sql(
		"""select count(*) from `tabCommunication`
		where email_account = %s and sent_or_received = 'Received'""",
		account,
	)[0][0]


def places(account, mails):
	"""{index of mail: number of places it ended in} for the delivered `mails`."""
	frappe.db.commit()
	comms = frappe.get_all(
		"Communication",
		filters={"email_account": account, "sent_or_received": "Received"},
		fields=["message_id", "subject"],
		limit_page_length=0,
	)
	unhandled = frappe.get_all(
		"Unhandled Email",
		filters={"email_account": account},
		fields=["message_id", "raw"],
		limit_page_length=0,
	)
	by_id, by_subject = {}, {}
	for comm in comms:
		if comm.message_id:
			by_id[comm.message_id] = by_id.get(comm.message_id, 0) + 1
		by_subject[comm.subject] = by_subject.get(comm.subject, 0) + 1
	for row in unhandled:
		message_id = (row.message_id or "").strip().strip("<>")
		if message_id:
			by_id[message_id] = by_id.get(message_id, 0) + 1
	counts = {}
	for index, mail in enumerate(mails):
		if mail.message_id:
			counts[index] = by_id.get(mail.message_id, 0)
		else:
			counts[index] = by_subject.get(mail.subject, 0) + sum(
				mail.subject in (row.raw or "") for row in unhandled
			)
	return counts


def lost_and_doubled(account, mails):
	counts = places(account, mails)
	return [i for i, n in counts.items() if n == 0], [i for i, n in counts.items() if n > 1]


def pull_until_quiet(imap, user, account, limit=40):
	"""Normal pulls until the server has nothing unseen and a pull brought nothing new."""
	for _ in range(limit):
		before = received(account)
		pull(account)
		if imap.unseen(user) == 0 and received(account) == before:
			return
	raise AssertionError(f"{account} still had mail after {limit} pulls")


# --- child processes ------------------------------------------------------------------------------


def _pull_loop(site, sites_path, account, pulls, crash_subject, errors, stop, connection_id):
	"""Frappe's pull job for `account`, `pulls` times (None: until `stop` is set, or killed).
	`connection_id` always holds this process's database connection id (for a test to KILL it)."""
	from unittest.mock import patch

	from frappe.database.mariadb.database import MariaDBDatabase

	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	frappe.flags.in_test = True
	connection_id.value = frappe.db.sql("select connection_id()")[0][0]
	with contextlib.ExitStack() as stack:
		connect = MariaDBDatabase.connect

		def connect_and_tell(db):
			connect(db)
			connection_id.value = db._conn.thread_id()

		stack.enter_context(patch.object(MariaDBDatabase, "connect", connect_and_tell))
		if crash_subject:
			from frappe.email.receive import InboundMail

			original = InboundMail.process

			def crash(self):
				if crash_subject in (self.subject or ""):
					os.kill(os.getpid(), signal.SIGKILL)  # a mail that takes its process down every time
				return original(self)

			stack.enter_context(patch.object(InboundMail, "process", crash))
		done = 0
		while (pulls is None and not stop.is_set()) or (pulls is not None and done < pulls):
			try:
				pull_from_email_account(account)
				frappe.db.commit()
			except Exception:
				errors.put(traceback.format_exc())
				with contextlib.suppress(Exception):
					frappe.db.connect()
			done += 1
	frappe.destroy()


def start_pulls(account, pulls=None, crash_subject=None, site=None):
	"""A child process pulling `account`; returns (process, errors queue, stop event). The process's
	`connection_id` holds its current database connection id."""
	errors, stop, connection_id = SPAWN.Queue(), SPAWN.Event(), SPAWN.Value("q", 0)
	process = SPAWN.Process(
		target=_pull_loop,
		args=(
			site or frappe.local.site,
			frappe.local.sites_path,
			account,
			pulls,
			crash_subject,
			errors,
			stop,
			connection_id,
		),
	)
	process.start()
	process.connection_id = connection_id
	return process, errors, stop


def drain(queue):
	out = []
	with contextlib.suppress(Exception):
		while True:
			out.append(queue.get(timeout=0.5))
	return out


def kill_after(account, process, extra, rng, imap, user, timeout=120):
	"""SIGKILL `process` once `extra` more mails of `account` committed (or the mailbox is empty)."""
	target = received(account) + extra
	deadline = time.monotonic() + timeout
	checked = 0.0
	while time.monotonic() < deadline and process.is_alive():
		if received(account) >= target:
			break
		if time.monotonic() - checked > 1:
			checked = time.monotonic()
			if imap.unseen(user) == 0:
				break
		time.sleep(0.02)
	time.sleep(rng.uniform(0, 0.15))  # not always right after a commit
	if process.is_alive():
		os.kill(process.pid, signal.SIGKILL)
	process.join(30)
	return process.exitcode


def sigkill_run(imap, user, account, mails, kills, rng, say=print):
	"""Deliver `mails`, kill `kills` pulling processes at random points, pull until quiet;
	returns (lost indexes, doubled indexes, exit codes of the killed pulls)."""
	for mail in mails:
		imap.deliver(user, mail.raw)
	codes = []
	for k in range(kills):
		process, _errors, _stop = start_pulls(account)
		codes.append(kill_after(account, process, rng.randint(1, 30), rng, imap, user))
		say(f"  kill {k + 1}/{kills}: {received(account)} mails committed so far")
	pull_until_quiet(imap, user, account)
	lost, doubled = lost_and_doubled(account, mails)
	return lost, doubled, codes


def _bare_contrast(site, sites_path, host, port, users, user, count, kills, seed, out):
	"""The SIGKILL run on a site without the app (a spawned process of its own)."""
	import random

	from case_threads.tests.scenario import mailbox_account

	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	frappe.flags.in_test = True
	try:
		imap = Dovecot(None, port, users)
		imap.host = host
		account = mailbox_account(imap, user)
		rng = random.Random(seed)
		mails = mixed_mails(f"bare{seed}", user, count, rng)
		lost, doubled, _codes = sigkill_run(imap, user, account, mails, kills, rng, say=lambda *a: None)
		frappe.db.set_value("Email Account", account, "enable_incoming", 0)
		frappe.db.commit()
		out.put({"mails": count, "kills": kills, "lost": len(lost), "doubled": len(doubled)})
	except Exception:
		out.put({"error": traceback.format_exc()})
	finally:
		frappe.destroy()


def bare_contrast(site, imap, user, count, kills, seed, timeout=900):
	out = SPAWN.Queue()
	process = SPAWN.Process(
		target=_bare_contrast,
		args=(site, frappe.local.sites_path, imap.host, imap.port, imap.users, user, count, kills, seed, out),
	)
	process.start()
	try:
		return out.get(timeout=timeout)
	finally:
		process.join(30)


# --- a real RQ worker, on a Redis database of this site's own ------------------------------------

WORKER = """
import sys
import frappe
from frappe.utils import background_jobs

frappe.init(site=sys.argv[1], sites_path=sys.argv[2])
frappe.local.conf.redis_queue = sys.argv[3]
# Frappe's worker takes the bench-wide redis_queue, but reuses the connection this process made first.
connection = background_jobs.get_redis_conn()
print("worker redis db", connection.connection_pool.connection_kwargs.get("db"), flush=True)
frappe.destroy()
# Optional: the queues ("" = all, as `bench worker`), "burst" or "run" (until SIGTERM), and a
# function (dotted path) called first (a test that breaks something on purpose).
args = sys.argv[4:] + ["short", "burst", ""][len(sys.argv[4:]) :]
queue, mode, setup = args[:3]
if setup:
	import importlib

	module, _, name = setup.rpartition(".")
	getattr(importlib.import_module(module), name)()
background_jobs.start_worker(queue=queue or None, burst=mode == "burst", quiet=mode != "burst")
"""


@contextlib.contextmanager
def isolated_queue(url):
	"""Enqueue from this process into the Redis database at `url` (not the bench's shared one)."""
	import redis
	from frappe.utils import background_jobs

	connection = redis.Redis.from_url(url)
	# The test's own Redis database: what earlier runs left there (their registries) is not this run's.
	connection.flushdb()
	saved = background_jobs._redis_queue_conn
	background_jobs._redis_queue_conn = connection
	try:
		yield connection
	finally:
		background_jobs._redis_queue_conn = saved


def worker_command(url, queue="short", mode="burst", setup=""):
	"""The command line of one Frappe worker (start_worker) on the Redis database at `url`."""
	import sys

	return [
		sys.executable,
		"-c",
		WORKER,
		frappe.local.site,
		os.path.abspath(frappe.local.sites_path),
		url,
		queue,
		mode,
		setup,
	]


def run_worker(url, timeout=180):
	"""Frappe's `bench worker` code (start_worker, burst) in a process of its own, on `url`."""
	import subprocess
	import sys

	sites_path = os.path.abspath(frappe.local.sites_path)
	result = subprocess.run(
		[sys.executable, "-c", WORKER, frappe.local.site, sites_path, url],
		cwd=sites_path,
		capture_output=True,
		text=True,
		timeout=timeout,
		env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
	)
	return result.returncode, result.stdout + result.stderr
