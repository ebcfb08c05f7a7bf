#!/usr/bin/env python3
"""Benchmark, real workers (issue 19): mails/s that Frappe's scheduler job pulls through 1 and through 2
real worker processes (Frappe's start_worker, as `bench worker`; RQ on a Redis database of its own),
4 Dovecot mailboxes with `--mails` mails each (the mix of case_threads.tests.worker_runs: new mails,
replies across mailboxes, a mail in two mailboxes, unrouted mail, mail without a From, corpus mail).

    cd ~/frappe-bench/sites && PYTHONPATH=REPO ../env/bin/python REPO/benchmarks/workers.py \\
        --site ct-bench.test [--mails 500] [--boxes 4] [--rounds 3] [--redis redis://127.0.0.1:6379/12]

Rounds alternate 1, 2, 1, 2, … workers on fresh mailboxes (drift on a shared machine hits both
alike); each round is checked (every mail in exactly one place, no duplicate, no job left) before it
counts. Reported: median mails/s per worker count with min to max, the ratio 2/1, and where the CPU went
in each round (the workers with their work horses, MariaDB, Redis, Dovecot, this process playing the
scheduler, and the rest of the machine), as cores busy on average over the round. Writes
benchmarks/out/workers.json.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid, children=True):
	"""CPU seconds of `pid` (with its reaped children: a worker's work horses, Dovecot's imap)."""
	try:
		fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
	except OSError:
		return 0.0
	utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
	return (utime + stime + ((cutime + cstime) if children else 0)) / TICKS


def pids_of(name):
	out = subprocess.run(["pidof", name], capture_output=True, text=True).stdout.split()
	return [int(p) for p in out]


def machine_cpu():
	"""(busy, total) seconds of all cores since boot."""
	values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
	idle = values[3] + values[4]
	return (sum(values) - idle) / TICKS, sum(values) / TICKS


class CpuMeter:
	"""CPU seconds per component between start() and stop(procs)."""

	def __init__(self, imap):
		self.imap = imap
		self.db = pids_of("mariadbd") or pids_of("mysqld")
		self.redis = pids_of("redis-server")

	def sample(self, procs):
		return {
			"workers": sum(proc_cpu(p.pid) for p, _log in procs),
			"mariadb": sum(proc_cpu(p, children=False) for p in self.db),
			"redis": sum(proc_cpu(p, children=False) for p in self.redis),
			"dovecot": proc_cpu(self.imap.process.pid) if self.imap.process else 0.0,
			"scheduler (this process)": sum(os.times()[:2]),
			"machine": machine_cpu()[0],
		}

	def start(self, procs):
		self.wall = time.monotonic()
		self.before = self.sample(procs)

	def stop(self, procs):
		after = self.sample(procs)
		wall = time.monotonic() - self.wall
		used = {key: after[key] - self.before.get(key, 0.0) for key in after}
		used["rest of the machine"] = used.pop("machine") - sum(used.values())
		self.cores = {key: round(value / wall, 2) for key, value in used.items()}
		self.cores["wall seconds"] = round(wall, 1)


def main(args):
	import frappe

	sys.path.insert(0, str(REPO))
	bench_sites = Path(os.path.expanduser(args.bench)) / "sites"
	os.chdir(bench_sites)
	frappe.init(site=args.site, sites_path=str(bench_sites))
	frappe.connect()
	from case_threads.tests import worker_runs

	rng = random.Random(args.seed)
	corpus = worker_runs.corpus_mails()
	counts = [1, 2] * args.rounds
	rounds = []
	with worker_runs.world(len(counts), args.boxes, args.redis) as (imap, domain):
		for number, workers in enumerate(counts):
			rnd = worker_runs.prepare(imap, domain, number, args.boxes, args.mails, rng, corpus)
			meter = CpuMeter(imap)
			worker_runs.run(imap, rnd, workers, args.redis, on_start=meter.start, on_done=meter.stop)
			problems = worker_runs.check(rnd)
			rate = rnd.delivered / rnd.seconds
			rounds.append(
				{
					"workers": workers,
					"mails": rnd.delivered,
					"seconds": round(rnd.seconds, 2),
					"mails_per_s": round(rate, 2),
					"pull_jobs": sum(
						n for (_site, name), n in rnd.jobs.items() if name == "pull_from_email_account"
					),
					"cpu_cores_busy": meter.cores,
					"problems": problems,
					"frappe_contact_errors": dict(rnd.frappe_contact_errors),
				}
			)
			print(
				f"round {number + 1}/{len(counts)}: {workers} worker(s), {rnd.delivered} mails, "
				f"{rnd.seconds:.1f} s, {rate:.2f} mails/s; cores busy {meter.cores}"
				+ (f"; PROBLEMS {problems}" if problems else ""),
				file=sys.stderr,
			)
	frappe.destroy()

	summary = {}
	for workers in (1, 2):
		rates = [r["mails_per_s"] for r in rounds if r["workers"] == workers]
		cores = [r["cpu_cores_busy"] for r in rounds if r["workers"] == workers]
		summary[workers] = {
			"mails_per_s_median": round(statistics.median(rates), 2),
			"min": min(rates),
			"max": max(rates),
			"rounds": len(rates),
			"cores_busy_median": {
				key: round(statistics.median(c[key] for c in cores), 2)
				for key in cores[0]
				if key != "wall seconds"
			},
		}
	ratio = summary[2]["mails_per_s_median"] / summary[1]["mails_per_s_median"]
	results = {
		"site": args.site,
		"boxes": args.boxes,
		"mails_per_box": args.mails,
		"cpus": os.cpu_count(),
		"load_average_at_end": os.getloadavg(),
		"summary": summary,
		"ratio_2_to_1": round(ratio, 2),
		"rounds": rounds,
		"ok": not any(r["problems"] for r in rounds),
	}
	out = REPO / "benchmarks" / "out"
	out.mkdir(parents=True, exist_ok=True)
	(out / "workers.json").write_text(json.dumps(results, indent=1, default=str))

	print(
		f"\nReal workers: {args.boxes} mailboxes x {args.mails} mails, {args.rounds} rounds each, {os.cpu_count()} CPUs"
	)
	for workers, s in summary.items():
		print(
			f"  {workers} worker(s): {s['mails_per_s_median']:.2f} mails/s median "
			f"(min {s['min']:.2f}, max {s['max']:.2f}); cores busy: {s['cores_busy_median']}"
		)
	print(f"  2 workers / 1 worker: {ratio:.2f}x" + ("" if results["ok"] else "  (SOME ROUNDS HAD PROBLEMS)"))
	print(f"  written to {out / 'workers.json'}")
	return 0 if results["ok"] else 1


if __name__ == "__main__":
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--bench", default=os.environ.get("CASE_THREADS_BENCH", "~/frappe-bench"))
	parser.add_argument("--site", default="ct-bench.test")
	parser.add_argument("--mails", type=int, default=500, help="mails per mailbox")
	parser.add_argument("--boxes", type=int, default=4)
	parser.add_argument("--rounds", type=int, default=3, help="rounds per worker count (alternating)")
	parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="the workers' Redis database")
	parser.add_argument("--seed", type=int, default=19)
	sys.exit(main(parser.parse_args()))
