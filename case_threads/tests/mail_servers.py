"""Real mail servers on 127.0.0.1 for scenario and concurrency tests.

    with dovecot({"support@x.test": "pw"}) as imap, smtp_capture({"support@x.test": "pw"}) as smtp:
        imap.deliver("support@x.test", raw_bytes)   # IMAP APPEND into the user's INBOX
        ...                                          # Email Accounts pull from imap.port
        smtp.wait_for(1)                             # what Frappe sent over SMTP

Dovecot runs in the foreground with its own config, users, maildirs, sockets and logs in a temp
dir (the package's service stays off). The SMTP server is aiosmtpd with AUTH over plaintext, so
one Email Account can pull and send with the same login, as a real mailbox does.
"""

import contextlib
import imaplib
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from email import message_from_bytes, policy

from case_threads.tests.loopback import HOST, free_port, stop

DOVECOT = os.environ.get("CASE_THREADS_DOVECOT", "/usr/sbin/dovecot")
POP3_BINARY = "/usr/lib/dovecot/pop3"
INSTALL_HINT = (
	"run scripts/install-test-deps BENCH_PYTHON (Debian dovecot-imapd, dovecot-pop3d, Python aiosmtpd)"
)


class MissingMailServer(RuntimeError):
	pass


def check_available():
	"""Raise MissingMailServer naming what to install when Dovecot or aiosmtpd is absent."""
	missing = []
	if not os.access(DOVECOT, os.X_OK):
		missing.append(f"Dovecot ({DOVECOT}, Debian package dovecot-imapd)")
	if importlib.util.find_spec("aiosmtpd") is None:
		missing.append("aiosmtpd (Python package, in the bench env)")
	if missing:
		raise MissingMailServer(f"missing {' and '.join(missing)}: {INSTALL_HINT}")


def require_mail_servers():
	"""check_available() for a test class: a missing server fails it (a skip would hide the gap)."""
	try:
		check_available()
	except MissingMailServer as e:
		raise AssertionError(str(e)) from None


def _mail_owner():
	"""Dovecot refuses root as a mail user: mail belongs to its own system user."""
	for name in ("dovecot", "nobody"):
		with contextlib.suppress(KeyError):
			entry = pwd.getpwnam(name)
			return entry.pw_uid, entry.pw_gid
	raise MissingMailServer("no 'dovecot' or 'nobody' user to own the maildirs")


DOVECOT_CONF = """\
instance_name = ct-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = {protocols}
listen = {host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:{root}/mail/%d/%n
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

POP3_CONF = """\
service pop3-login {{
  inet_listener pop3 {{
    address = {host}
    port = {pop_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


class Dovecot:
	def __init__(self, root, port, users, pop_port=None):
		self.root, self.port, self.users = root, port, dict(users)
		self.host = HOST
		self.pop_port = pop_port  # POP3 on the same maildirs, when asked for
		self.process = None

	def start(self, timeout=20):
		"""Start (or start again, on the same port and maildirs) the server."""
		conf = os.path.join(self.root, "dovecot.conf")
		with open(os.path.join(self.root, "stdout.log"), "ab") as output:
			self.process = subprocess.Popen(
				[DOVECOT, "-F", "-c", conf], stdout=output, stderr=subprocess.STDOUT
			)
		_wait_for_banner(
			self.port,
			self.process,
			timeout,
			lambda: self.log() + _read(os.path.join(self.root, "stdout.log")),
		)

	def stop(self):
		"""Stop the server as an admin would: open connections are cut."""
		if self.process is not None:
			stop(self.process)
			self.process = None

	def count(self, user):
		"""How many messages are in `user`'s INBOX (a POP deletion removes one)."""
		imap = self.login(user)
		try:
			_status, data = imap.select("INBOX", readonly=True)
			return int(data[0])
		finally:
			imap.logout()

	def login(self, user):
		imap = imaplib.IMAP4(self.host, self.port, timeout=30)
		imap.login(user, self.users[user])
		return imap

	def deliver(self, user, raw):
		"""Put one raw message in `user`'s INBOX (unseen), as an MTA's delivery would."""
		imap = self.login(user)
		try:
			status, data = imap.append("INBOX", None, None, raw)
			if status != "OK":
				raise RuntimeError(f"IMAP APPEND for {user} failed: {data}")
		finally:
			imap.logout()

	def unseen(self, user):
		"""How many messages in `user`'s INBOX nobody has fetched yet."""
		imap = self.login(user)
		try:
			imap.select("INBOX", readonly=True)
			_status, data = imap.search(None, "UNSEEN")
			return len(data[0].split())
		finally:
			imap.logout()

	def log(self):
		with contextlib.suppress(OSError), open(os.path.join(self.root, "dovecot.log")) as f:
			return f.read()
		return ""


@contextlib.contextmanager
def dovecot(users, timeout=20, pop3=False):
	"""A Dovecot IMAP server on 127.0.0.1 for `users` ({address: password}); yields a Dovecot.
	With `pop3`, it also serves POP3 on `pop_port` (Debian package dovecot-pop3d)."""
	check_available()
	if pop3 and not os.path.exists(POP3_BINARY):
		raise MissingMailServer(
			f"missing Dovecot POP3 ({POP3_BINARY}, Debian package dovecot-pop3d): {INSTALL_HINT}"
		)
	root = tempfile.mkdtemp(prefix="ct-dovecot-")
	os.chmod(root, 0o755)  # Dovecot's own users walk into it
	uid, gid = _mail_owner()
	for folder in ("mail", "home"):
		os.makedirs(os.path.join(root, folder))
		os.chown(os.path.join(root, folder), uid, gid)
	with open(os.path.join(root, "passwd"), "w") as f:
		f.writelines(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in users.items())
	port = free_port()
	pop_port = free_port() if pop3 else None
	conf = os.path.join(root, "dovecot.conf")
	with open(conf, "w") as f:
		protocols = "imap pop3" if pop3 else "imap"
		f.write(DOVECOT_CONF.format(root=root, host=HOST, port=port, uid=uid, gid=gid, protocols=protocols))
		if pop3:
			f.write(POP3_CONF.format(host=HOST, pop_port=pop_port))

	server = Dovecot(root, port, users, pop_port)
	try:
		server.start(timeout)
		yield server
	finally:
		server.stop()
		shutil.rmtree(root, ignore_errors=True)


def _read(path):
	with contextlib.suppress(OSError), open(path, errors="replace") as f:
		return f.read()
	return ""


def _wait_for_banner(port, process, timeout, logs):
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		if process.poll() is not None:
			raise RuntimeError(f"dovecot exited with {process.returncode}:\n{logs()}")
		try:
			with socket.create_connection((HOST, port), timeout=2) as s:
				if s.recv(100).startswith(b"* OK"):
					return
		except OSError:
			time.sleep(0.1)
	raise RuntimeError(f"dovecot did not answer on {HOST}:{port} within {timeout}s:\n{logs()}")


class SMTPCapture:
	"""What arrived over SMTP: `messages` holds email.message.Message objects in arrival order."""

	def __init__(self, users):
		self.users = dict(users)
		self.messages = []
		self.envelopes = []
		self.host, self.port = HOST, None

	# aiosmtpd handler hook
	async def handle_DATA(self, server, session, envelope):
		self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
		# The modern policy unfolds headers: a long signed Message-ID arrives folded over two lines.
		raw = envelope.original_content or envelope.content
		self.messages.append(message_from_bytes(raw, policy=policy.default))
		return "250 Message accepted"

	def authenticate(self, server, session, envelope, mechanism, auth_data):
		from aiosmtpd.smtp import AuthResult, LoginPassword

		if not isinstance(auth_data, LoginPassword):
			return AuthResult(success=False, handled=False)
		login, password = auth_data.login.decode(), auth_data.password.decode()
		return AuthResult(success=self.users.get(login) == password)

	def wait_for(self, count, timeout=15):
		"""The first `count` messages, waiting for them to arrive."""
		deadline = time.monotonic() + timeout
		while len(self.messages) < count:
			if time.monotonic() > deadline:
				raise AssertionError(f"expected {count} mails over SMTP, got {len(self.messages)}")
			time.sleep(0.05)
		return self.messages[:count]


def _quiet_aiosmtpd(record):
	# aiosmtpd logs a warning about its own use of a deprecated attribute on every AUTH.
	return "login_data is deprecated" not in record.getMessage()


@contextlib.contextmanager
def smtp_capture(users):
	"""An SMTP server on 127.0.0.1 that accepts AUTH for `users` ({login: password}) over plain
	text and keeps every message; yields an SMTPCapture."""
	check_available()
	from aiosmtpd.controller import Controller

	logging.getLogger("mail.log").addFilter(_quiet_aiosmtpd)

	capture = SMTPCapture(users)
	capture.port = free_port()
	controller = Controller(
		capture,
		hostname=HOST,
		port=capture.port,
		authenticator=capture.authenticate,
		auth_require_tls=False,
		decode_data=False,
	)
	controller.start()
	try:
		yield capture
	finally:
		controller.stop()
