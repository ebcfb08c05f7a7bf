#!/usr/bin/env python3
"""Benchmark: the app against bare Frappe, on real sites (issue 6). Prints figures, writes JSON.

    ~/frappe-bench/env/bin/python benchmarks/run.py [--bench ~/frappe-bench] [--mails 200] [--big 50000] [--rounds 3]

1. mails/s through Frappe's receive path (Email Account.receive → InboundMail → Communication),
   new mails and replies, on a site with the app and on a site without it, and the ratio (median
   of alternating rounds);
2. time to match a reply at 1k and at `--big` cases, the ratio, and Frappe's own subject fallback
   (`subject LIKE '%…%'` + sender over 60 days) at the same sizes for contrast;
3. messages/s of the pure decision core over the shared corpus, and peak memory of the receive runs;
4. (issue 18) mails/s pulled over real IMAP (the tests' Dovecot) with the deferred \\Seen marking
   against the app's fetch loop as it was (marking on fetch), on the app site, and the ratio.
   `--part marking` runs only this one (e.g. `--part marking --mails 100 --rounds 3`).
5. service levels (issue 11): the breach job (case_threads.sla.mark_breaches) at 1k and at `--big`
   open cases under an agreement, its one query's plan, and the SLA's own cost per new case.
   `--only breach --site SITE` runs just this part on one site.

Sites: ct-bench.test (with case_threads) and ct-bare.test (frappe only), made on first use with
the MariaDB user of CASE_THREADS_DB_ROOT_USER/_PASSWORD (as scripts/test does).
"""

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITES = {"app": "ct-bench.test", "bare": "ct-bare.test"}


def progress(label, done, total):
	width = 30
	filled = int(width * done / max(total, 1))
	print(f"\r{label:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
	if done >= total:
		print(file=sys.stderr)


# --- parent: sites, workers, report -------------------------------------------------------------


def frappe_cmd(bench, *args):
	return subprocess.run(
		[str(bench / "env/bin/python"), "-m", "frappe.utils.bench_helper", "frappe", *args],
		cwd=bench / "sites",
		check=True,
		stdout=subprocess.DEVNULL,
	)


def ensure_site(bench, site, with_app):
	if (bench / "sites" / site).is_dir():
		if with_app:
			frappe_cmd(bench, "--site", site, "migrate", "--skip-search-index")
		return
	print(f"making site {site} (once)…", file=sys.stderr)
	frappe_cmd(
		bench,
		"new-site",
		site,
		"--db-host",
		os.environ.get("CASE_THREADS_DB_HOST", "127.0.0.1"),
		"--db-root-username",
		os.environ.get("CASE_THREADS_DB_ROOT_USER", "ct_admin"),
		"--db-root-password",
		os.environ.get("CASE_THREADS_DB_ROOT_PASSWORD", "ct_admin_pw"),
		"--admin-password",
		"admin",
		"--no-mariadb-socket",
		*(["--install-app", "case_threads"] if with_app else []),
	)


def worker(bench, *args):
	out = subprocess.run(
		[str(bench / "env/bin/python"), __file__, "--bench", str(bench), *args],
		cwd=bench / "sites",
		check=True,
		stdout=subprocess.PIPE,
		text=True,
	)
	return json.loads(out.stdout.strip().splitlines()[-1])


def core_throughput(corpus):
	sys.path.insert(0, str(REPO))
	from case_threads.core import decide, parse_message

	with open(corpus / "index.csv", newline="") as f:
		messages = [parse_message((corpus / row["path"]).read_bytes()) for row in csv.DictReader(f)]
	rounds = 50
	start = time.perf_counter()
	for _ in range(rounds):
		for message in messages:
			decide(message, [], [], email_account=None, sender_is_internal=False)
	return rounds * len(messages) / (time.perf_counter() - start)


def marking_comparison(bench, args):
	"""Pull `--mails` mails over real IMAP, deferred marking vs marking on fetch, alternating."""
	site = args.app_site or SITES["app"]
	if not args.app_site:
		ensure_site(bench, site, True)  # a site given by name is the caller's, already migrated
	samples = {"deferred": [], "on_fetch": []}
	for _round in range(args.rounds):
		for mode in samples:
			samples[mode].append(
				worker(
					bench, "--worker", "marking", "--site", site, "--mails", str(args.mails), "--mode", mode
				)
			)
	rates = {mode: statistics.median(row["per_s"] for row in rows) for mode, rows in samples.items()}
	rows = [
		(f"pulled over IMAP/s, marking on fetch ({site})", f"{rates['on_fetch']:.1f}"),
		("pulled over IMAP/s, deferred marking (issue 18)", f"{rates['deferred']:.1f}"),
		("ratio (target ≥ 0.95)", f"{rates['deferred'] / rates['on_fetch']:.2f}"),
	]
	return {"rates": rates, "samples": samples}, rows


def main(args):
	bench = Path(args.bench).expanduser()
	if args.part == "year":
		import year  # benchmarks/year.py: a year of data on its own site (issue 19)

		args.site = args.site or "ct-year.test"
		return year.main(args)
	if args.part == "marking":
		results, rows = marking_comparison(bench, args)
		print()
		for label, value in rows:
			print(f"{label:<56}{value:>14}")
		print(json.dumps(results["samples"]))
		return
	for kind, site in SITES.items():
		ensure_site(bench, site, kind == "app")
	results = {"mails": args.mails, "big": args.big, "rounds": args.rounds}
	# Rounds alternate the sites so that drift on a shared machine hits both sides alike; each figure
	# is the median of its rounds (all samples are kept in the JSON).
	runs = {
		"bare": ["--site", SITES["bare"]],
		"app": ["--site", SITES["app"]],
		# Contrast: bare Frappe making its own document for every new mail (append_to), as the app does.
		"bare_append_to": ["--site", SITES["bare"], "--append-to", "ToDo"],
	}
	samples = {kind: [] for kind in runs}
	for _round in range(args.rounds):
		for kind, site_args in runs.items():
			samples[kind].append(worker(bench, "--worker", "receive", *site_args, "--mails", str(args.mails)))
	for kind, rows in samples.items():
		results[kind] = {
			key: statistics.median(row[key] for row in rows)
			for key in ("new_per_s", "reply_per_s", "peak_rss_mb", "new_sql_per_mail", "reply_sql_per_mail")
		}
		results[kind]["samples"] = rows
	results["receive_spread"] = receive_spread(samples)
	results["receive_spread_append_to"] = receive_spread(samples, "bare_append_to")
	results["match"] = worker(bench, "--worker", "match", "--site", SITES["app"], "--big", str(args.big))
	results["breach"] = worker(bench, "--worker", "breach", "--site", SITES["app"], "--big", str(args.big))
	corpus = Path(os.environ.get("CASE_THREADS_CORPUS") or REPO.parent / "shared" / "corpus")
	results["core_per_s"] = core_throughput(corpus)

	app, bare, match = results["app"], results["bare"], results["match"]
	rows = [
		*receive_rows(results),
		(
			"contrast: bare Frappe, a ToDo per mail (append_to)",
			f"{results['bare_append_to']['new_per_s']:.1f}",
		),
		# Its replies thread onto the ToDo: bare Frappe's own cost of a reply on a document.
		("contrast: its replies, on the ToDo (replies/s)", f"{results['bare_append_to']['reply_per_s']:.1f}"),
		(
			"ratio app / append_to, new mail, replies (median, range)",
			" ".join(
				f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})"
				for r in results["receive_spread_append_to"].values()
			),
		),
		(
			"SQL statements per new mail, bare append_to → app",
			f"{results['bare_append_to']['new_sql_per_mail']:.1f} → {app['new_sql_per_mail']:.1f}",
		),
		(
			"SQL statements per reply on a document, bare append_to → app",
			f"{results['bare_append_to']['reply_sql_per_mail']:.1f} → {app['reply_sql_per_mail']:.1f}",
		),
		(f"match a reply at {match['small']} cases (ms)", f"{match['ours_small_ms']:.2f}"),
		(f"match a reply at {match['large']} cases (ms)", f"{match['ours_large_ms']:.2f}"),
		("ratio (target ≤ 1.2)", f"{match['ours_large_ms'] / match['ours_small_ms']:.2f}"),
		(
			f"floor: one primary-key read, {match['small']} → {match['large']} (ms)",
			f"{match['pk_small_ms']:.2f} → {match['pk_large_ms']:.2f}",
		),
		(f"Frappe subject LIKE fallback at {match['small']} (ms)", f"{match['like_small_ms']:.2f}"),
		(f"Frappe subject LIKE fallback at {match['large']} (ms)", f"{match['like_large_ms']:.2f}"),
		("decision core over the corpus (msgs/s, target ≥ 20k)", f"{results['core_per_s']:,.0f}"),
		*breach_rows(results["breach"]),
		(
			"peak RSS of the receive run, bare / app (MB)",
			f"{bare['peak_rss_mb']:.0f} / {app['peak_rss_mb']:.0f}",
		),
	]
	results["marking"], marking_rows = marking_comparison(bench, args)
	rows += marking_rows
	print()
	for label, value in rows:
		print(f"{label:<56}{value:>14}")
	out = REPO / "benchmarks" / "out"
	out.mkdir(exist_ok=True)
	(out / "results.json").write_text(json.dumps(results, indent=1))
	print(f"\nJSON: {out / 'results.json'}")


def receive_spread(samples, base="bare"):
	"""Per-round ratios app/base (rounds alternate, so round i of each site ran side by side)."""
	spread = {}
	for key in ("new_per_s", "reply_per_s"):
		ratios = sorted(a[key] / b[key] for a, b in zip(samples["app"], samples[base], strict=True))
		spread[key] = {"median": statistics.median(ratios), "min": ratios[0], "max": ratios[-1]}
	return spread


def receive_rows(results):
	app, bare, spread = results["app"], results["bare"], results["receive_spread"]

	def ratio(key):
		r = spread[key]
		return f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})"

	return [
		("new mails/s, bare Frappe", f"{bare['new_per_s']:.1f}"),
		("new mails/s, with case_threads", f"{app['new_per_s']:.1f}"),
		("ratio, median of rounds (range) (target ≥ 0.9)", ratio("new_per_s")),
		(
			"SQL statements per new mail, bare → app",
			f"{bare['new_sql_per_mail']:.1f} → {app['new_sql_per_mail']:.1f}",
		),
		("replies/s, bare Frappe", f"{bare['reply_per_s']:.1f}"),
		("replies/s, with case_threads", f"{app['reply_per_s']:.1f}"),
		("ratio, median of rounds (range) (target ≥ 0.9)", ratio("reply_per_s")),
		(
			"SQL statements per reply, bare → app (target: < 10 more)",
			f"{bare['reply_sql_per_mail']:.1f} → {app['reply_sql_per_mail']:.1f}",
		),
	]


def breach_rows(breach):
	return [
		(f"breach job, nothing due, {breach['small']} open cases (ms)", f"{breach['idle_small_ms']:.2f}"),
		(f"breach job, nothing due, {breach['large']} open cases (ms)", f"{breach['idle_large_ms']:.2f}"),
		("ratio (flat: one indexed query)", f"{breach['idle_large_ms'] / breach['idle_small_ms']:.2f}"),
		(
			f"breach job marking {breach['breached']} breaches at {breach['large']} (ms)",
			f"{breach['mark_ms']:.1f}",
		),
		("breach query uses index", breach["index"] or "NONE"),
		("SLA work per new case (policy, due times) (ms)", f"{breach['insert_ms']:.3f}"),
	]


# --- workers: run inside one site --------------------------------------------------------------


def connect(site):
	import frappe

	frappe.init(site=site, sites_path=".")
	frappe.connect()
	return frappe


def offline_mailbox(frappe, name, email_id, incoming=1, append_to=None):
	"""An IMAP Email Account whose server is never reached (the benchmark hands mail to receive())."""
	if not frappe.db.exists("Email Account", name):
		frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": name,
				"email_id": email_id,
				"enable_incoming": incoming,
				"use_imap": 1,
				"email_server": "127.0.0.1",
				"password": "unused",
				"imap_folder": [{"folder_name": "INBOX", "append_to": append_to}],
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
	return frappe.get_doc("Email Account", name)


def append_to_mailbox(frappe, doctype):
	"""A mailbox whose new mail Frappe itself turns into `doctype` documents (append_to)."""
	return offline_mailbox(
		frappe, f"CT bench {doctype}", f"bench-{doctype.lower()}@ct.test", append_to=doctype
	)


def forget_senders(frappe):
	"""Every receive run starts with no Contacts left by earlier runs, on both sites alike.

	Frappe looks up each address of every inbound mail in Contact Email, which has no index on
	email_id: left over, the contacts of earlier runs would make whichever site ran more often slower.
	"""
	pattern = "%@cust.test"  # the benchmark's senders; the seeded cases make no Contacts
	contacts = frappe.get_all("Contact Email", filters={"email_id": ("like", pattern)}, pluck="parent")
	if not contacts:
		return
	for doctype, filters in (
		("Contact Email", {"parent": ("in", contacts)}),
		("Contact Phone", {"parent": ("in", contacts)}),
		("Dynamic Link", {"parenttype": "Contact", "parent": ("in", contacts)}),
		("Contact", {"name": ("in", contacts)}),
	):
		frappe.db.delete(doctype, filters)
	frappe.db.commit()


def receive_worker(site, mails, append_to=None):
	import email
	import resource

	frappe = connect(site)
	sys.path.insert(0, str(REPO))
	from case_threads.tests.utils import build_mail, make_mailbox, receive, unique

	forget_senders(frappe)
	if frappe.db.exists("DocType", "Email Route") and not frappe.db.exists("Email Route", "bench"):
		frappe.get_doc(
			{"doctype": "Email Route", "route_name": "bench", "address_pattern": "*@ct.test"}
		).insert()
		frappe.db.commit()
	# Email Account.validate would try the IMAP server (replaced below): test mode for the setup only.
	frappe.flags.in_test = True
	mailbox = append_to_mailbox(frappe, append_to) if append_to else make_mailbox("bench@ct.test")
	frappe.flags.in_test = False
	run = unique("run")
	receive(mailbox, *(build_mail(f"warm {run} {i}", f"w{i}@cust.test") for i in range(10)))

	statements = StatementCounter()

	def timed(label, raws):
		start = time.perf_counter()
		step = max(len(raws) // 20, 1)
		with statements:
			for i in range(0, len(raws), step):
				receive(mailbox, *raws[i : i + step])
				progress(f"{label} ({site})", min(i + step, len(raws)), len(raws))
		return len(raws) / (time.perf_counter() - start)

	new = [build_mail(f"Printer {run} {i} broken", f"c{i}.{run}@cust.test") for i in range(mails)]
	new_rate = timed("new mails", new)
	new_sql = statements.take(len(new))
	replies = [
		build_mail(
			f"Re: Printer {run} {i} broken",
			f"c{i}.{run}@cust.test",
			in_reply_to=email.message_from_bytes(raw)["Message-ID"],
		)
		for i, raw in enumerate(new)
	]
	reply_rate = timed("replies", replies)
	reply_sql = statements.take(len(replies))
	if os.environ.get("CASE_THREADS_BENCH_SQL_LOG"):
		# One more of each, statement by statement, to stderr (what the counts are made of).
		extra = build_mail(f"Printer {run} log", f"log.{run}@cust.test")
		for label, raw in (
			("new mail", extra),
			(
				"reply",
				build_mail(
					f"Re: Printer {run} log",
					f"log.{run}@cust.test",
					in_reply_to=email.message_from_bytes(extra)["Message-ID"],
				),
			),
		):
			with statements.logging():
				receive(mailbox, raw)
			print(f"--- {label} ({site}): {len(statements.log)} statements", file=sys.stderr)
			for query in statements.log:
				print("  " + query, file=sys.stderr)
			statements.take(1)
	peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
	frappe.destroy()
	return {
		"new_per_s": new_rate,
		"reply_per_s": reply_rate,
		"peak_rss_mb": peak,
		"new_sql_per_mail": new_sql,
		"reply_sql_per_mail": reply_sql,
	}


class StatementCounter:
	"""Counts the SQL statements sent to MariaDB (every cursor execute, commits and locks
	included) while active; `take(mails)` returns the count per mail and starts again."""

	def __init__(self):
		self.count, self.log, self._logging = 0, [], False

	def __enter__(self):
		import pymysql.cursors

		self._cursor = pymysql.cursors.Cursor
		self._execute = original = self._cursor.execute
		counter = self

		def execute(cursor, query, args=None):
			counter.count += 1
			if counter._logging:
				text = query.decode() if isinstance(query, bytes) else str(query)
				counter.log.append(" ".join(text.split())[:160])
			return original(cursor, query, args)

		self._cursor.execute = execute
		return self

	def __exit__(self, *exc):
		self._cursor.execute = self._execute
		self._logging = False

	def logging(self):
		self.log, self._logging = [], True
		return self

	def take(self, mails):
		per_mail, self.count = self.count / max(mails, 1), 0
		return per_mail


def marking_worker(site, mails, mode):
	"""Mails/s of Frappe's pull job over a real Dovecot, with the app's deferred marking or without."""
	frappe = connect(site)
	sys.path.insert(0, str(REPO))
	from case_threads.mail import email_account
	from case_threads.tests.mail_servers import dovecot
	from case_threads.tests.scenario import mailbox_account, pull
	from case_threads.tests.utils import build_mail, unique

	email_account.DEFER_MARKING = mode == "deferred"
	forget_senders(frappe)
	run = unique("mark")
	user = f"{run}@ct.test"
	if frappe.db.exists("DocType", "Email Route") and not frappe.db.exists("Email Route", "bench"):
		frappe.get_doc(
			{"doctype": "Email Route", "route_name": "bench", "address_pattern": "*@ct.test"}
		).insert()
		frappe.db.commit()
	with dovecot({user: "pw"}) as imap:
		account = mailbox_account(imap, user)
		for i in range(mails):
			imap.deliver(user, build_mail(f"Printer {run} {i} broken", f"c{i}.{run}@cust.test", to=user))
		start = time.perf_counter()
		while imap.unseen(user):
			pull(account)
		elapsed = time.perf_counter() - start
		frappe.db.set_value("Email Account", account, "enable_incoming", 0)
		frappe.db.commit()
	frappe.destroy()
	return {"per_s": mails / elapsed, "mode": mode}


def seed_cases(frappe, total):
	"""Bulk rows (Case + one Communication each) until the site holds `total` seeded cases."""
	from frappe.utils import add_days, now_datetime

	from case_threads.core import new_token

	have = frappe.db.count("Case", {"name": ("like", "SEED-%")})
	now = now_datetime()
	batch = 5000
	for start in range(have, total, batch):
		stop = min(start + batch, total)
		cases, comms = [], []
		for i in range(start, stop):
			name, created = f"SEED-{i:07d}", add_days(now, -random.randint(0, 50))
			sender = f"seed{i}@cust.test"
			cases.append(
				(name, f"Seeded issue number {i}", "Replied", sender, new_token(), created, created, created)
			)
			comms.append(
				(
					f"SEEDC-{i:07d}",
					f"Seeded issue number {i}",
					sender,
					f"seed-{i}@cust.test",
					"Case",
					name,
					"Communication",
					"Email",
					"Received",
					created,
					created,
					created,
				)
			)
		frappe.db.bulk_insert(
			"Case",
			["name", "subject", "status", "raised_by", "thread_token", "creation", "modified", "opened_on"],
			cases,
		)
		frappe.db.bulk_insert(
			"Communication",
			[
				"name",
				"subject",
				"sender",
				"message_id",
				"reference_doctype",
				"reference_name",
				"communication_type",
				"communication_medium",
				"sent_or_received",
				"creation",
				"modified",
				"communication_date",
			],
			comms,
		)
		frappe.db.commit()
		progress(f"seeding to {total}", stop, total)


def match_timings(frappe, total, samples=500):
	picks = random.sample(range(total), samples)
	# Right after bulk seeding InnoDB is still busy (purge, change buffer): let it settle, then do
	# one untimed pass, so that the timed pass pays for table size, not for cold caches.
	time.sleep(10)
	for _pass in ("warm-up", "timed"):
		ours, like, floor = lookups(frappe, picks)
	return tuple(statistics.median(values) * 1000 for values in (ours, like, floor))


def lookups(frappe, picks):
	from frappe.utils import add_days, now_datetime

	from case_threads.core import Message, decide
	from case_threads.mail.evidence import gather_candidates

	ours, like, floor = [], [], []
	for i in picks:
		subject = f"Seeded issue number {i}"
		sender = f"seed{i}@cust.test"
		token = frappe.db.get_value("Case", f"SEED-{i:07d}", "thread_token")
		message = Message(
			in_reply_to=(f"seed-{i}@cust.test",),
			from_addr=sender,
			subject=f"Re: {subject} [#{token}]",
			to=("a@b",),
		)
		start = time.perf_counter()
		decide(message, gather_candidates(message, sender), [], email_account=None, sender_is_internal=False)
		ours.append(time.perf_counter() - start)
		start = time.perf_counter()
		frappe.db.get_value(
			"Case",
			{
				"subject": ("like", f"%{subject}%"),
				"creation": (">", add_days(now_datetime(), -60)),
				"raised_by": sender,
			},
		)
		like.append(time.perf_counter() - start)
		# The floor: one primary-key read of a Case, the cheapest lookup there is.
		start = time.perf_counter()
		frappe.db.sql("select name from `tabCase` where name = %s", f"SEED-{i:07d}")
		floor.append(time.perf_counter() - start)
	return ours, like, floor


def match_worker(site, big):
	frappe = connect(site)
	sys.path.insert(0, str(REPO))
	small = 1000
	# Start from no seeded rows, so that "at 1k" means a table of 1k seeded cases on every run.
	frappe.db.delete("Communication", {"name": ("like", "SEEDC-%")})
	frappe.db.delete("Case", {"name": ("like", "SEED-%")})
	frappe.db.commit()
	seed_cases(frappe, small)
	ours_small, like_small, pk_small = match_timings(frappe, small)
	seed_cases(frappe, big)
	ours_large, like_large, pk_large = match_timings(frappe, big)
	frappe.destroy()
	return {
		"small": small,
		"large": big,
		"ours_small_ms": ours_small,
		"ours_large_ms": ours_large,
		"like_small_ms": like_small,
		"like_large_ms": like_large,
		"pk_small_ms": pk_small,
		"pk_large_ms": pk_large,
	}


def seed_open_cases(frappe, total, overdue=0):
	"""Bulk Open cases under the Default agreement until `total` exist, due in the future except
	the last `overdue` ones, which passed their resolution due time a minute ago."""
	from frappe.utils import add_days, add_to_date, now_datetime

	from case_threads.core import new_token

	have = frappe.db.count("Case", {"name": ("like", "SLAB-%")})
	now = now_datetime()
	batch = 5000
	fields = [
		"name",
		"subject",
		"status",
		"raised_by",
		"thread_token",
		"creation",
		"modified",
		"opened_on",
		"service_level_agreement",
		"agreement_status",
		"response_by",
		"resolution_by",
		"first_responded_on",
		"sla_due",
		"last_customer_update",
	]
	for start in range(have, total, batch):
		stop = min(start + batch, total)
		rows = []
		for i in range(start, stop):
			created = add_days(now, -random.randint(0, 2))
			late = i >= total - overdue
			due = add_to_date(now, minutes=-1) if late else add_days(now, random.randint(1, 30))
			rows.append(
				(
					f"SLAB-{i:07d}",
					f"SLA bench {i}",
					"Open",
					f"slab{i}@cust.test",
					new_token(),
					created,
					created,
					created,
					"Default",
					"Resolution Due",
					created,
					due,
					created,
					due,
					created,
				)
			)
		frappe.db.bulk_insert("Case", fields, rows)
		frappe.db.commit()
		progress(f"seeding open cases to {total}", stop, total)


def timed_job(frappe, runs=20):
	from case_threads.sla import mark_breaches

	times = []
	for _ in range(runs):
		start = time.perf_counter()
		mark_breaches()
		times.append(time.perf_counter() - start)
	return statistics.median(times) * 1000


def breach_worker(site, big):
	frappe = connect(site)
	sys.path.insert(0, str(REPO))
	from case_threads import sla

	sla.ensure_default_policy()
	frappe.db.delete("Case", {"name": ("like", "SLAB-%")})
	frappe.db.commit()
	sla.mark_breaches()  # whatever else on the site is due now is marked before timing
	small, breached = 1000, 50
	seed_open_cases(frappe, small)
	idle_small = timed_job(frappe)
	seed_open_cases(frappe, big)
	time.sleep(5)  # let InnoDB settle after the bulk insert
	idle_large = timed_job(frappe)
	plan = frappe.db.sql(
		"explain select name from `tabCase` where agreement_status in ('First Response Due', 'Resolution Due')"
		" and sla_due < now() order by sla_due",
		as_dict=True,
	)
	# Some of them run past their due time: marked Failed (and noted) once.
	frappe.db.sql(
		"update `tabCase` set sla_due = now() - interval 1 minute, resolution_by = now() - interval 1 minute"
		" where name like 'SLAB-%%' order by name desc limit %s",
		breached,
	)
	frappe.db.commit()
	start = time.perf_counter()
	marked = len(sla.mark_breaches())
	mark_ms = (time.perf_counter() - start) * 1000
	# The SLA's own share of a new case: policy choice and the two due times.
	doc = frappe.get_doc(
		{
			"doctype": "Case",
			"subject": "x",
			"status": "Open",
			"priority": "Medium",
			"opened_on": frappe.utils.now_datetime(),
			"channel": "Email",
		}
	)
	start = time.perf_counter()
	for _ in range(500):
		sla.on_case_insert(doc)
	insert_ms = (time.perf_counter() - start) * 1000 / 500
	frappe.db.delete("Case", {"name": ("like", "SLAB-%")})
	frappe.db.commit()
	frappe.destroy()
	return {
		"small": small,
		"large": big,
		"idle_small_ms": idle_small,
		"idle_large_ms": idle_large,
		"breached": marked,
		"mark_ms": mark_ms,
		"index": plan[0].get("key") if plan else None,
		"plan": [dict(row) for row in plan],
		"insert_ms": insert_ms,
	}


if __name__ == "__main__":
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--bench", default=os.environ.get("CASE_THREADS_BENCH", "~/frappe-bench"))
	parser.add_argument("--mails", type=int, default=200)
	parser.add_argument("--big", type=int, default=50_000)
	parser.add_argument("--rounds", type=int, default=3, help="receive runs per site, alternating")
	parser.add_argument("--worker", choices=["receive", "match", "marking", "breach"])
	parser.add_argument("--part", choices=["all", "marking", "year"], default="all")
	parser.add_argument(
		"--app-site", help="site with the app for the marking comparison (default ct-bench.test)"
	)
	parser.add_argument("--mode", choices=["deferred", "on_fetch"], help="(marking worker)")
	parser.add_argument("--only", choices=["breach"], help="run one part only, on --site")
	parser.add_argument("--site")
	parser.add_argument("--append-to", help="(worker) the mailbox makes these documents itself")
	sys.path.insert(0, str(Path(__file__).resolve().parent))
	__import__("year").add_arguments(parser.add_argument_group("--part year (benchmarks/year.py)"))
	args = parser.parse_args()
	if args.worker == "receive":
		print(json.dumps(receive_worker(args.site, args.mails, args.append_to)))
	elif args.worker == "marking":
		print(json.dumps(marking_worker(args.site, args.mails, args.mode)))
	elif args.worker == "match":
		print(json.dumps(match_worker(args.site, args.big)))
	elif args.worker == "breach":
		print(json.dumps(breach_worker(args.site, args.big), default=str))
	elif args.only == "breach":
		bench = Path(args.bench).expanduser()
		breach = worker(bench, "--worker", "breach", "--site", args.site, "--big", str(args.big))
		for label, value in breach_rows(breach):
			print(f"{label:<56}{value:>14}")
		print(json.dumps(breach["plan"], default=str))
	else:
		main(args)
