"""Servers the tests start listen on 127.0.0.1 only, on a free port, and are stopped for sure."""

import socket
import subprocess

HOST = "127.0.0.1"


def free_port():
	with socket.socket() as s:
		s.bind((HOST, 0))
		return s.getsockname()[1]


def stop(process, timeout=10):
	"""Terminate a child server, killing it if it does not go within `timeout` seconds."""
	process.terminate()
	try:
		process.wait(timeout)
	except subprocess.TimeoutExpired:
		process.kill()
		process.wait()
