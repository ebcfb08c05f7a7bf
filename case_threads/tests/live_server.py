"""The site's web app served on 127.0.0.1 for HTTP and browser tests.

`bench serve` binds 0.0.0.0; this serves Frappe's own WSGI application (with /assets and /files,
as `bench serve` does) on loopback only, in a child process with its own database connections.

    with live_server(frappe.local.site) as url:
        requests.get(url + "/api/method/ping")

Data a test wants the server to see must be committed first: the server is another process.
"""

import contextlib
import os
import subprocess
import sys
import time
import urllib.request

import frappe

from case_threads.tests.loopback import HOST, free_port, stop


@contextlib.contextmanager
def live_server(site, sites_path=None, timeout=60):
	"""Serve `site` on a free loopback port until the block ends; yields the base URL."""
	sites_path = os.path.abspath(sites_path or frappe.local.sites_path)
	port = free_port()
	log = open(os.path.join(sites_path, site, "logs", "case_threads_live_server.log"), "ab")
	process = subprocess.Popen(
		[sys.executable, "-m", "case_threads.tests.live_server", site, str(port)],
		cwd=sites_path,
		stdout=log,
		stderr=subprocess.STDOUT,
		env={**os.environ, "CI": "1"},  # Frappe's quiet, reloader-free mode
	)
	url = f"http://{HOST}:{port}"
	try:
		_wait_until_up(url, process, timeout)
		yield url
	finally:
		stop(process)
		log.close()


def _wait_until_up(url, process, timeout):
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		if process.poll() is not None:
			raise RuntimeError(f"live server exited with {process.returncode}; see the site's logs")
		try:
			with urllib.request.urlopen(url + "/api/method/ping", timeout=5) as response:
				if response.status == 200:
					return
		except OSError:
			time.sleep(0.3)
	raise RuntimeError(f"live server at {url} did not answer within {timeout}s")


def serve(site, port):
	import logging

	import frappe.app
	from werkzeug.serving import make_server

	frappe.app._site = site
	frappe.app._sites_path = os.getcwd()
	application = frappe.app.application_with_statics()
	logging.getLogger("werkzeug").setLevel(logging.ERROR)
	make_server(HOST, port, application, threaded=True).serve_forever()


if __name__ == "__main__":
	serve(sys.argv[1], int(sys.argv[2]))
