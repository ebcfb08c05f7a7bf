"""Real workers (issue 19): Frappe's own scheduler job pulls several Dovecot mailboxes through real
`bench worker` processes (Frappe's start_worker, RQ) on a Redis database of the caller's own.

One round: `boxes` fresh mailboxes get a few first mails (pulled directly, some of their cases then
Closed); then each gets `per_box` mails of a mix (new mails, replies to the first mails' cases of
other mailboxes, one mail delivered to two mailboxes, mails to unrouted addresses, mails without a
From, and real mails of the shared corpus); `workers` worker processes run while this process plays
the scheduler (the Scheduled Job Type of Frappe's `pull`, enqueued every TICK seconds as the
scheduler does, deduplicated by Frappe itself) until every mailbox is empty and no job is left.
`check(round)` lists everything that is not exactly where it belongs.

Used by case_threads.tests.test_workers (asserts) and benchmarks/workers.py (times it); needs a
connected site and commits as it goes.
"""

import contextlib
import csv
import os
import re
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import make_msgid

import frappe

from case_threads.case_threads.doctype.email_route.email_route import ROUTES_CACHE_KEY
from case_threads.core.settle import message_key
from case_threads.tests import pull_faults as faults
from case_threads.tests.scenario import DISPOSITION, SETTINGS, ensure_disposition, mailbox_account, pull
from case_threads.tests.utils import build_mail, corpus_path

PULL_JOB = "frappe.email.doctype.email_account.email_account.pull"
PULL_ACCOUNT_JOB = "frappe.email.doctype.email_account.email_account.pull_from_email_account"
SCHEDULER_JOB = "frappe.core.doctype.scheduled_job_type.scheduled_job_type.run_scheduled_job"
TICK = 0.5  # seconds between scheduler ticks (Frappe's default is 60 s; the job dedupes itself)
POLL = 0.5  # seconds between looks at the mailboxes (is every mail in?)
# Frappe's log titles for a mail kept as Unhandled Email (case_threads.mail.email_account).
UNHANDLED_TITLES = ("Inbound email kept as Unhandled Email", "Frappe could not read an inbound email")
CORPUS_KINDS = ("malformed", "new_request", "bounce", "auto_reply", "reply_threaded", "forward")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[^\n]*\n(?:[ \t][^\n]*\n)*", re.IGNORECASE | re.MULTILINE)


@dataclass
class Mail:
	raw: bytes
	message_id: str  # without <>
	kind: str  # new, shared, reply, clone_reply, unrouted, no_from, corpus:<category>
	boxes: tuple  # the mailboxes it is delivered to
	case: str | None = None  # reply: the Case it belongs on; clone_reply: the Closed case
	sender: str | None = None


@dataclass
class Round:
	tag: str
	users: list
	accounts: dict  # user -> Email Account
	mails: list = field(default_factory=list)
	closed: list = field(default_factory=list)  # seed cases Closed before the run
	since: object = None
	seconds: float = 0.0
	ticks: int = 0
	jobs: Counter = field(default_factory=Counter)
	cpu: dict = field(default_factory=dict)

	@property
	def delivered(self):
		return sum(len(m.boxes) for m in self.mails)


def with_message_id(raw, message_id):
	"""`raw` with its Message-ID header (or none) replaced by `message_id`, bytes otherwise unchanged:
	corpus mails are reused by every run, and a known Message-ID is how each is found again."""
	header = _HEADER_END.split(raw, maxsplit=1)[0]
	eol = b"\r\n" if b"\r\n" in header[:2000] else b"\n"
	line = b"Message-ID: <" + message_id.encode() + b">" + eol
	found = _MESSAGE_ID.search(header)
	if found:
		return raw[: found.start()] + line + raw[found.end() :]
	if raw.startswith(b"From "):  # an mbox From_ line stays first
		first, _, rest = raw.partition(b"\n")
		return first + b"\n" + line + rest
	return line + raw


def corpus_mails(kinds=CORPUS_KINDS):
	"""[(category, path, raw)] of the shared corpus, in index order (empty without the corpus)."""
	index = corpus_path() / "index.csv"
	if not index.exists():
		return []
	with open(index, newline="") as f:
		rows = [row for row in csv.DictReader(f) if row["category"] in kinds]
	return [(row["category"], row["path"], (corpus_path() / row["path"]).read_bytes()) for row in rows]


# --- the world -------------------------------------------------------------------------------------


@contextlib.contextmanager
def world(rounds, boxes, redis_url):
	"""Dovecot with `boxes` users per round, a route for their domain, this site's other incoming
	mailboxes paused (Frappe's pull job would pull them too) and this process enqueueing into
	`redis_url` (emptied first). Yields (imap, domain)."""
	from case_threads.tests.mail_servers import dovecot

	domain = f"workers{frappe.generate_hash(length=6).lower()}.test"
	users = {
		f"r{r}b{b}@{domain}": frappe.generate_hash(length=12) for r in range(rounds) for b in range(boxes)
	}
	settings = frappe.get_single("Case Threads Settings")
	settings.update(SETTINGS)
	settings.save(ignore_permissions=True)
	ensure_disposition()
	route = (
		frappe.get_doc(
			{
				"doctype": "Email Route",
				"route_name": f"Workers {domain}",
				"address_pattern": f"*@{domain}",
				"sequence": 10,
			}
		)
		.insert(ignore_permissions=True)
		.name
	)
	paused = frappe.get_all("Email Account", filters={"enable_incoming": 1}, pluck="name")
	for name in paused:
		frappe.db.set_value("Email Account", name, "enable_incoming", 0)
	frappe.db.commit()
	made = []
	try:
		with dovecot(users) as imap, faults.isolated_queue(redis_url):
			imap.accounts = made
			yield imap, domain
	finally:
		frappe.db.rollback()
		for name in made:
			frappe.db.set_value("Email Account", name, "enable_incoming", 0)
		for name in paused:
			frappe.db.set_value("Email Account", name, "enable_incoming", 1)
		frappe.db.set_value("Email Route", route, "enabled", 0)
		frappe.cache.delete_value(ROUTES_CACHE_KEY)
		frappe.db.commit()


def deliver_all(imap, deliveries):
	"""IMAP APPEND each (user, raw), one login per mailbox."""
	by_user = {}
	for user, raw in deliveries:
		by_user.setdefault(user, []).append(raw)
	for user, raws in by_user.items():
		connection = imap.login(user)
		try:
			for raw in raws:
				status, data = connection.append("INBOX", None, None, raw)
				if status != "OK":
					raise RuntimeError(f"IMAP APPEND for {user} failed: {data}")
		finally:
			connection.logout()


def prepare(imap, domain, number, boxes, per_box, rng, corpus=None):
	"""Round `number`: its mailboxes with their first mails pulled (a few of their cases Closed) and
	the round's mix delivered, not yet pulled. Returns the Round."""
	tag = f"{domain.split('.')[0]}r{number}"
	users = [f"r{number}b{b}@{domain}" for b in range(boxes)]
	# Earlier rounds' mailboxes stop pulling: Frappe's job would pull each of them too (empty pulls).
	for name in imap.accounts:
		frappe.db.set_value("Email Account", name, "enable_incoming", 0)
	frappe.db.commit()
	accounts = {}
	for user in users:
		accounts[user] = mailbox_account(imap, user)
		imap.accounts.append(accounts[user])
	rnd = Round(tag, users, accounts)

	# First mails, one Case each; every other one is Closed before the run.
	seeds = max(2, per_box // 12)
	firsts = {user: [] for user in users}
	for b, user in enumerate(users):
		for i in range(seeds):
			sender = f"first{i}.b{b}.{tag}@customer.test"
			raw = build_mail(f"First {tag} b{b} #{i}: printer on fire", sender, to=user)
			firsts[user].append(faults.sent(raw))
	deliver_all(imap, [(user, m.raw) for user in users for m in firsts[user]])
	for user in users:
		pull(accounts[user])
	seed_cases = {}
	for user in users:
		for i, first in enumerate(firsts[user]):
			case = frappe.db.get_value("Communication", {"message_id": first.message_id}, "reference_name")
			if not case:
				raise AssertionError(f"first mail {first.subject} made no Case")
			if i % 2:
				doc = frappe.get_doc("Case", case)
				doc.status, doc.disposition = "Closed", DISPOSITION
				doc.save(ignore_permissions=True)
				rnd.closed.append(case)
			seed_cases.setdefault(user, []).append((case, first, bool(i % 2)))
	frappe.db.commit()

	def new(kind, to, boxes_, sender, subject, **kw):
		message_id = make_msgid(domain="customer.test")[1:-1]
		raw = build_mail(subject, sender, to=to, message_id=f"<{message_id}>", **kw)
		rnd.mails.append(Mail(raw, message_id, kind, tuple(boxes_), None, sender))
		return rnd.mails[-1]

	def reply(kind, box, case, first, n):
		mail = new(
			kind,
			box,
			[box],
			first.sender,
			f"Re: {first.subject}",
			in_reply_to=f"<{first.message_id}>",
			references=f"<{first.message_id}>",
			body=f"Still burning ({n}).",
		)
		mail.case = case

	corpus = corpus if corpus is not None else corpus_mails()
	corpus_at = (number * boxes * per_box) % max(len(corpus), 1)
	for b, user in enumerate(users):
		other = users[(b + 1) % boxes]  # replies arrive in another mailbox than their first mail
		third = users[(b + 2) % boxes]
		start = len(rnd.mails)
		for case, first, closed in seed_cases[other]:
			if closed:  # two replies to one Closed case, in two mailboxes: one clone
				reply("clone_reply", user, case, first, 1)
				reply("clone_reply", third, case, first, 2)
			else:
				reply("reply", user, case, first, 1)
		count = per_box - (len(rnd.mails) - start)
		for i in range(count):
			slot = i % 20
			sender = f"c{i}.b{b}.{tag}@customer.test"
			if slot == 3:
				new("shared", f"{user}, {other}", [user, other], sender, f"Order {tag}-b{b}-{i} to two of us")
			elif slot in (6, 16):
				new(
					"unrouted",
					f"nobody{i}@unrouted-{tag}.test",
					[user],
					sender,
					f"Order {tag}-b{b}-{i} misrouted",
				)
			elif slot == 9:
				mail = new("no_from", user, [user], sender, f"Order {tag}-b{b}-{i} no sender")
				mail.raw = re.sub(rb"(?m)^From: [^\n]*\n", b"", mail.raw, count=1)
			elif slot in (12, 19) and corpus:
				category, path, raw = corpus[corpus_at % len(corpus)]
				corpus_at += 1
				message_id = make_msgid(domain="corpus.test")[1:-1]
				rnd.mails.append(
					Mail(with_message_id(raw, message_id), message_id, f"corpus:{category}:{path}", (user,))
				)
			else:
				new("new", user, [user], sender, f"Order {tag}-b{b}-{i} arrived broken")
	rng.shuffle(rnd.mails)
	deliver_all(imap, [(box, m.raw) for m in rnd.mails for box in m.boxes])
	return rnd


# --- running the workers ---------------------------------------------------------------------------


def _queues(connection):
	from frappe.utils.background_jobs import get_queue_list
	from rq import Queue
	from rq.registry import FailedJobRegistry, StartedJobRegistry

	names = get_queue_list(build_queue_name=True)
	queues = [Queue(name, connection=connection) for name in names]
	started = [StartedJobRegistry(name, connection=connection) for name in names]
	failed = [FailedJobRegistry(name, connection=connection) for name in names]
	return queues, started, failed


def pending(connection):
	"""Jobs queued or running on any of Frappe's queues of `connection`."""
	queues, started, _failed = _queues(connection)
	return sum(q.count for q in queues) + sum(r.count for r in started)


def start_workers(count, redis_url, setup="", logs=None):
	"""`count` worker processes (Frappe's start_worker on all queues, as `bench worker`), waiting
	until RQ lists them all. Returns [(process, log path)]."""
	import redis
	from rq import Worker

	connection = redis.Redis.from_url(redis_url)
	before = len(Worker.all(connection=connection))
	out = []
	sites_path = os.path.abspath(frappe.local.sites_path)
	for i in range(count):
		log = os.path.join(logs or tempfile.gettempdir(), f"ct-worker-{os.getpid()}-{i}.log")
		with open(log, "wb") as f:
			process = subprocess.Popen(
				faults.worker_command(redis_url, queue="", mode="run", setup=setup),
				cwd=sites_path,
				stdout=f,
				stderr=subprocess.STDOUT,
				env={**os.environ, "PYTHONPATH": os.pathsep.join(__import__("sys").path)},
			)
		out.append((process, log))
	deadline = time.monotonic() + 120
	while len(Worker.all(connection=connection)) < before + count:
		for process, log in out:
			if process.poll() is not None:
				raise AssertionError(f"worker exited with {process.returncode}:\n{_tail(log)}")
		if time.monotonic() > deadline:
			raise AssertionError("workers did not register with RQ in 120 s")
		time.sleep(0.1)
	return out


def stop_workers(workers, timeout=60):
	"""SIGTERM (RQ's warm shutdown: the running job finishes first); returns the exit codes."""
	for process, _log in workers:
		if process.poll() is None:
			process.send_signal(signal.SIGTERM)
	codes = []
	for process, _log in workers:
		try:
			codes.append(process.wait(timeout))
		except subprocess.TimeoutExpired:
			process.kill()
			codes.append(process.wait())
	return codes


def _alive(procs):
	for process, log in procs:
		if process.poll() is not None:
			raise AssertionError(f"a worker died ({process.returncode}):\n{_tail(log)}")


def _failure(job_id, connection):
	from rq.job import Job

	with contextlib.suppress(Exception):
		return (Job.fetch(job_id, connection=connection).latest_result().exc_string or "")[-400:]
	return "?"


def _tail(path, chars=3000):
	with contextlib.suppress(OSError), open(path, errors="replace") as f:
		return f.read()[-chars:]
	return ""


def run(imap, rnd, workers, redis_url, setup="", timeout=1800, on_start=None, on_done=None):
	"""Run `workers` workers while ticking Frappe's scheduler job until every mailbox of the round is
	empty and no job is queued or running; sets rnd.seconds (first tick to done) and rnd.jobs.
	`on_start(procs)` / `on_done(procs)`: called at the first tick and once the queues drained."""
	import redis
	from frappe.utils.background_jobs import get_queue_list
	from rq.job import Job
	from rq.registry import FinishedJobRegistry

	connection = redis.Redis.from_url(redis_url)
	connection.flushdb()  # a round's registries are its own
	scheduled = frappe.get_doc("Scheduled Job Type", {"method": PULL_JOB})
	procs = start_workers(workers, redis_url, setup)
	try:
		frappe.db.commit()
		rnd.since = frappe.utils.now_datetime()
		if on_start:
			on_start(procs)
		started = time.monotonic()
		deadline = started + timeout
		last_poll = 0.0
		while True:
			_alive(procs)
			scheduled.enqueue(force=True)  # what the scheduler does each tick; skipped while queued
			rnd.ticks += 1
			time.sleep(TICK)
			if time.monotonic() - last_poll > POLL:
				last_poll = time.monotonic()
				# Empty: every mail's outcome committed (it is marked \Seen only after that).
				if not any(imap.unseen(user) for user in rnd.users):
					break
			if time.monotonic() > deadline:
				unseen = {user: imap.unseen(user) for user in rnd.users}
				raise AssertionError(
					f"round not done in {timeout} s: unseen {unseen}, {pending(connection)} jobs"
				)
		rnd.seconds = time.monotonic() - started
		# No more ticks: what is still queued (pulls that find nothing now) must run to the end.
		while pending(connection) and time.monotonic() < deadline:
			_alive(procs)
			time.sleep(0.2)
		if on_done:
			on_done(procs)  # every job's work horse has been reaped by its worker by now
	finally:
		codes = stop_workers(procs)
		rnd.worker_logs = [_tail(log) for _p, log in procs]
		for _p, log in procs:
			with contextlib.suppress(OSError):
				os.unlink(log)
	rnd.worker_codes = codes
	for name in get_queue_list(build_queue_name=True):
		for job_id in FinishedJobRegistry(name, connection=connection).get_job_ids():
			with contextlib.suppress(Exception):
				job = Job.fetch(job_id, connection=connection)
				rnd.jobs[(job.kwargs.get("site"), str(job.kwargs.get("job_name")).split("|")[0])] += 1
	_queues_now, started_regs, failed_regs = _queues(connection)
	rnd.stuck = {
		"queued": pending(connection) - sum(r.count for r in started_regs),
		"started": sum(r.count for r in started_regs),
		"failed": [(job_id, _failure(job_id, connection)) for r in failed_regs for job_id in r.get_job_ids()],
	}
	return rnd


# --- what must hold --------------------------------------------------------------------------------


def check(rnd):
	"""Everything of the round that is not where it belongs: {problem: [examples]} (empty: all good)."""
	frappe.db.commit()  # a fresh snapshot: what the workers committed
	accounts = list(rnd.accounts.values())
	comms = frappe.get_all(
		"Communication",
		filters={"email_account": ("in", accounts), "sent_or_received": "Received"},
		fields=["name", "message_id", "reference_doctype", "reference_name", "email_account"],
		limit_page_length=0,
	)
	parked = dict(
		frappe.get_all(
			"Unprocessed Email",
			filters={"email_account": ("in", accounts)},
			fields=["communication", "reason"],
			as_list=True,
			limit_page_length=0,
		)
	)
	# By the key the pull gave each mail (its Message-ID as a header regex finds it): a mail whose
	# headers Python's parser gives up on before its Message-ID is kept with message_id empty.
	unhandled = Counter(
		(row.message_id or "").strip().strip("<>") or message_key(row.raw or "").removeprefix("mid:")
		for row in frappe.get_all(
			"Unhandled Email",
			filters={"email_account": ("in", accounts)},
			fields=["message_id", "raw"],
			limit_page_length=0,
		)
	)
	by_id = {}
	for comm in comms:
		by_id.setdefault(comm.message_id, []).append(comm)
	firsts = set(
		frappe.get_all(
			"Communication",
			filters={"email_account": ("in", accounts), "subject": ("like", "First %")},
			pluck="message_id",
			limit_page_length=0,
		)
	)
	problems = {}

	def bad(problem, example):
		problems.setdefault(problem, []).append(example)

	# Each Communication the app decided is on a Case or parked, never both, never neither.
	for comm in comms:
		on_case = comm.reference_doctype == "Case" and bool(comm.reference_name)
		if on_case == (comm.name in parked):
			bad("Communication neither on a Case nor in Unprocessed Email (or both)", comm.name)
	for message_id, rows in by_id.items():
		if len(rows) > 1:
			bad("duplicate Communication for one Message-ID", (message_id, [r.email_account for r in rows]))
	known = {m.message_id for m in rnd.mails} | firsts
	for message_id in set(by_id) - known:
		bad("Communication of a mail the round did not send", message_id)

	clones = {}
	for mail in rnd.mails:
		rows = by_id.get(mail.message_id, [])
		places = len(rows) + unhandled.get(mail.message_id, 0)
		if places != 1:
			bad(
				f"{mail.kind.split(':')[0]} mail in {places} places (exactly 1)", (mail.kind, mail.message_id)
			)
			continue
		comm = rows[0] if rows else None
		case = comm.reference_name if comm and comm.reference_doctype == "Case" else None
		if mail.kind in ("new", "shared"):
			if not case:
				bad(f"{mail.kind} mail not on a Case", (mail.message_id, parked.get(comm and comm.name)))
			elif frappe.db.count("Case", {"raised_by": mail.sender}) != 1:
				bad(f"{mail.kind} mail: not exactly one Case for its sender", mail.sender)
		elif mail.kind == "reply" and case != mail.case:
			bad("reply not on its open Case", (mail.message_id, case, mail.case))
		elif mail.kind == "clone_reply":
			clones.setdefault(mail.case, set()).add(case)
		elif mail.kind == "unrouted" and not (comm and comm.name in parked):
			bad("mail to an unrouted address not in Unprocessed Email", (mail.message_id, case))
		elif mail.kind == "no_from" and comm:
			bad("mail without a From not kept as Unhandled Email", mail.message_id)
	for closed, cases in clones.items():
		made = frappe.get_all("Case", filters={"cloned_from": closed}, pluck="name")
		if len(made) != 1 or cases != set(made):
			bad("replies to a Closed case not all on its one clone", (closed, made, sorted(cases, key=str)))

	# Errors: only the record Frappe/the app writes beside each mail it keeps as Unhandled Email.
	errors = frappe.get_all(
		"Error Log",
		filters={"creation": (">=", rnd.since)},
		fields=["method", "reference_name", "error"],
		limit_page_length=0,
	)
	expected = [e for e in errors if e.method in UNHANDLED_TITLES and e.reference_name in accounts]
	# Bare Frappe's own records in Communication.get_contacts, which go on without the Contact: a
	# corpus mail addressed to "foo" (no domain), and two workers making the Contact of one new
	# address at once (its insert races; the other one wins). Neither is the app's, nor a lost mail.
	contacts = [
		e
		for e in errors
		if e.method == "Unable to add contact"
		and ("is not a valid Email" in (e.error or "") or "DuplicateEntryError" in (e.error or ""))
	]
	rnd.frappe_contact_errors = Counter(
		"duplicate Contact" if "DuplicateEntryError" in (e.error or "") else "invalid address"
		for e in contacts
	)
	for e in errors:
		if e not in expected and e not in contacts:
			bad("Error Log", (e.method, e.reference_name, (e.error or "")[-300:]))
	if len(expected) != sum(unhandled.values()):
		bad("Error Logs beside Unhandled Emails", (len(expected), sum(unhandled.values())))

	stuck = getattr(rnd, "stuck", {})
	if stuck.get("queued") or stuck.get("started"):
		bad("job left queued or running", stuck)
	for failed in stuck.get("failed", []):
		bad("failed job", failed)
	if [c for c in getattr(rnd, "worker_codes", []) if c != 0]:
		bad("worker exit code", (rnd.worker_codes, rnd.worker_logs))
	return problems


def outcome(rnd):
	"""Where the round's mails went, by kind: {kind: Counter(place)}."""
	frappe.db.commit()
	out = {}
	for mail in rnd.mails:
		comm = frappe.db.get_value(
			"Communication", {"message_id": mail.message_id}, ["name", "reference_doctype"], as_dict=True
		)
		if comm and comm.reference_doctype == "Case":
			place = "Case"
		elif comm:
			place = "Unprocessed"
		elif frappe.db.exists(
			"Unhandled Email",
			{"email_account": ("in", list(rnd.accounts.values())), "raw": ("like", f"%{mail.message_id}%")},
		):
			place = "Unhandled"
		else:
			place = "nowhere"
		out.setdefault(
			mail.kind.split(":")[0] if not mail.kind.startswith("corpus") else "corpus", Counter()
		)[place] += 1
	return out


# --- breaking it on purpose (a worker's `setup`) ---------------------------------------------------


def break_message_id_lock():
	"""No per-Message-ID lock: two mailboxes' pulls of one mail race (test_workers' break-it check)."""
	from case_threads.mail import email_account

	email_account.hold_message_id = lambda message_id: None


def break_deferred_marking():
	"""Frappe's marking on fetch, no receipts (DEFER_MARKING off)."""
	from case_threads.mail import email_account

	email_account.DEFER_MARKING = False
