"""scripts/demo's Python side: start the mail servers, set up the site, load the demo mail once,
serve the desk on 127.0.0.1 and keep pulling and sending until Ctrl-C.

    python -m case_threads.demo.run SITE PORT     (from the bench's sites folder)
"""

import logging
import os
import secrets
import signal
import sys
import time
import traceback
from email import policy
from pathlib import Path

import frappe
from frappe.email.queue import flush

from case_threads.demo import world
from case_threads.demo.mail import Demo, problems
from case_threads.tests.loopback import HOST
from case_threads.tests.mail_servers import check_available, dovecot, smtp_capture
from case_threads.tests.scenario import pull

LOADED_KEY = "case_threads_demo_loaded"
POLL_SECONDS = 10


def say(text):
	print(f"[demo] {text}", flush=True)


def load_demo_mail(imap, account):
	"""Play demo/plan.json; AssertionError listing every mail that did not end where it says."""
	demo = Demo(imap, account, world.MAILBOX, say=say)
	demo.run()
	wrong = problems(demo)
	if wrong:
		raise AssertionError("the demo mail did not end where demo/plan.json says:\n  " + "\n  ".join(wrong))
	return demo


def save_outgoing(smtp, outbox, saved):
	"""Write each mail captured since the last call to outbox/NNN.eml (numbers go on from earlier
	runs' files); returns how many of this run's captured mails are saved."""
	for message in smtp.messages[saved:]:
		path = outbox / f"{len(list(outbox.glob('*.eml'))) + 1:03d}.eml"
		path.write_bytes(message.as_bytes(policy=policy.SMTP))
		say(f"outgoing mail captured: {path} (to {message['To']}: {message['Subject']})")
	return len(smtp.messages)


def main(site, port):
	logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
	check_available()
	frappe.init(site=site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	outbox = Path(frappe.get_site_path("private", "demo-outbox")).resolve()
	outbox.mkdir(parents=True, exist_ok=True)
	password = secrets.token_urlsafe(12)
	users = {world.MAILBOX: password}
	server = None
	with dovecot(users) as imap, smtp_capture(users) as smtp:
		say(f"Dovecot (IMAP) on {imap.host}:{imap.port}, SMTP capture on {smtp.host}:{smtp.port}")
		try:
			account = world.setup_world(imap, smtp, password)
			pull(account)  # the first pull records the folder's UIDVALIDITY
			say(f"users, mailbox '{account}' ({world.MAILBOX}), route '{world.ROUTE}' ready")
			if frappe.db.get_default(LOADED_KEY):
				say("demo mail already loaded (scripts/demo --reset starts over)")
			else:
				say("pulling the demo mail (demo/mail/*.eml) as demo/plan.json says:")
				load_demo_mail(imap, account)
				frappe.db.set_default(LOADED_KEY, "1")
				frappe.db.commit()
				say("every demo mail ended where demo/plan.json says")
			saved = save_outgoing(smtp, outbox, 0)
			server = serve(site, port)
			url = f"http://{HOST}:{port}"
			unprocessed = frappe.db.count(
				"Unprocessed Email", {"email_account": account, "status": "Unprocessed"}
			)
			cases = frappe.db.count("Case", {"queue": world.QUEUE})
			print(
				f"""
==========================================================================================
 Case Threads demo is up:  {url}/app/case      ({cases} cases, {unprocessed} unprocessed emails)
 Log in as an agent:       {world.AGENTS[0]} / {world.PASSWORD}   (or {world.AGENTS[1]})
 Case Manager:             {world.MANAGER} / {world.PASSWORD}
 Administrator:            Administrator / admin
 Mailbox:                  {world.MAILBOX} (IMAP {imap.host}:{imap.port}, pulled every {POLL_SECONDS}s)
 Outgoing mail is captured (SMTP {smtp.host}:{smtp.port}) and saved in {outbox}/
 Stop with Ctrl-C.
==========================================================================================""",
				flush=True,
			)
			while server.poll() is None:
				time.sleep(POLL_SECONDS)
				frappe.db.commit()  # see what the desk wrote
				pull(account)
				flush()
				frappe.db.commit()
				saved = save_outgoing(smtp, outbox, saved)
			raise RuntimeError(
				f"the web server stopped (exit {server.returncode}); see {site}/logs/case_threads_demo_server.log"
			)
		finally:
			if server and server.poll() is None:
				server.terminate()
				server.wait(10)
			frappe.db.rollback()
			world.disable(world.ACCOUNT)
			frappe.destroy()


def serve(site, port):
	"""The site's WSGI app on 127.0.0.1:port (live_server's serve(), in its own process)."""
	import subprocess
	import urllib.request

	log = open(os.path.join(site, "logs", "case_threads_demo_server.log"), "ab")
	process = subprocess.Popen(
		[sys.executable, "-m", "case_threads.tests.live_server", site, str(port)],
		stdout=log,
		stderr=subprocess.STDOUT,
		env={**os.environ, "CI": "1"},
	)
	deadline = time.monotonic() + 60
	while time.monotonic() < deadline:
		if process.poll() is not None:
			raise RuntimeError(
				f"the web server exited with {process.returncode} (port {port} taken? set CASE_THREADS_DEMO_PORT); "
				f"see {site}/logs/case_threads_demo_server.log"
			)
		try:
			with urllib.request.urlopen(f"http://{HOST}:{port}/api/method/ping", timeout=5):
				return process
		except OSError:
			time.sleep(0.3)
	process.terminate()
	raise RuntimeError(f"the web server did not answer on {HOST}:{port} within 60s")


def cli(argv):
	signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
	signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even when started in the background
	try:
		main(argv[0], int(argv[1]))
	except KeyboardInterrupt:
		say("stopped (Ctrl-C); the next scripts/demo reuses the site and is up in seconds")
		return 0
	except AssertionError as e:
		print(f"!! DEMO FAILED: {e}", file=sys.stderr)
		return 1
	except Exception as e:
		traceback.print_exc()
		print(f"!! DEMO FAILED: {type(e).__name__}: {e}", file=sys.stderr)
		return 1
	return 0


if __name__ == "__main__":
	sys.exit(cli(sys.argv[1:]))
