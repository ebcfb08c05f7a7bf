"""Email Account override: lets the inbound hook read the raw message Frappe is processing.

Frappe's Communication keeps neither References, Auto-Submitted, Precedence, Delivered-To nor the
full encoded Subject, so the app needs the message itself. Frappe Helpdesk replaces the Email
Account class too (and builds its own InboundMail objects in `get_inbound_mails`), so instead of
rewriting `get_inbound_mails` this override:

- subclasses whichever Email Account class another app registered before ours, and
- wraps each InboundMail that class returns (whatever its own class) so that `process()` publishes
  the mail in a context variable that `case_threads.mail.inbound` reads.

Install order (why the mixin is layered at run time). Frappe uses only the LAST registered
`override_doctype_class` (base_document.import_controller: `class_overrides[doctype][-1]`, in the
order of the site's installed apps) and caches that class per process and site in
`frappe.controllers`. Installed after this app, Helpdesk's class wins and ours would never run.
Reordering the site's installed apps would change every other hook of every app, and patching
Helpdesk's class would change Helpdesk; neither is a good neighbour. So:

1. Layering: `case_threads.mail.neighbour.layer_email_account`, a `before_request` and `before_job`
   hook (Frappe's scheduler pulls mail in `pull_from_email_account` jobs, run by `execute_job`,
   which calls `before_job`), replaces the cached Email Account controller of the process with
   this mixin over the class Frappe chose (`_account_class(current)`). Installed last, Frappe picks
   our class directly and `_base_class` finds the one below it. Either way the class in use is
   `CaseThreadsEmailAccount(mixin, <Helpdesk's or Frappe's class>)`, and other apps' overrides keep
   working under it.
2. Fallback: where the class was not layered (a `bench execute`/console pull, or `bench start`,
   whose DEV_SERVER makes Frappe import the controller for every document, bypassing the cache),
   `neighbour.inbound_mail` finds the InboundMail being processed on the call stack, so the
   inbound hook still reads the raw headers. What then does not apply: the app's own fetch loop
   below, the Unhandled Email safety net of `_PublishesRawMail` (Frappe's own still keeps failed
   IMAP mail) and the silenced auto-reply acknowledgement.

Mailboxes. For Email Accounts the app decides (no Append To, or Append To = Case, on the account
and on every IMAP folder: `neighbour.handles`) the app's own fetch loop runs, under any class. For
the others (e.g. Append To = HD Ticket) the class's own `get_inbound_mails` runs (Helpdesk's) and
their mails keep their own `process()`; they only get `neighbour._SidedMail`'s Message-ID lookups,
so that one email sent to both kinds of mailbox is stored once on each side, in either order.

No mail lost when a pull dies (issue 18): at-least-once fetch, exactly-once effect
-----------------------------------------------------------------------------------
Frappe marks each IMAP mail \\Seen (UNSEEN sync), or under POP deletes it, right when it fetches it,
before the batch is processed: a pull killed midway (deploy, OOM killer, job timeout, lost database
connection) silently dropped the rest of its batch. When our fetch loop is in use:

1. `DeferringEmailServer` fetches like Frappe's EmailServer but marks and deletes nothing, and
   remembers which UID / POP message number each fetched mail really has.
2. Before a mail is processed, its Inbound Mail Receipt (keyed by account and Message-ID, or the
   SHA-256 of the raw bytes for mail without one: `core.settle.message_key`) counts one attempt
   and commits (`pull_ledger.begin`). A receipt already settled means the mail's outcome committed
   in an earlier, interrupted pull: it is not processed again. A mail with more than
   `MAX_ATTEMPTS` attempts killed its pull each time: it becomes an Unhandled Email with the reason.
3. The receipt turns Done in the transaction of the mail's outcome (Communication on a Case,
   Unprocessed Email, or Unhandled Email), so both commit or neither does.
4. After Frappe's receive loop (even when it raised), `_Pull.finish` reads which receipts
   committed and only those mails are marked \\Seen (one UID STORE per folder) or deleted (POP DELE,
   applied by the closing QUIT). Anything else stays on the server for the next pull.
5. A lost database connection or an RQ job timeout while a mail is processed is not the mail's
   fault: the pull reconnects, un-counts that attempt, and stops (a job timeout is raised again
   after step 4). Mails are processed in UID order and the pull stops at the first one that did
   not commit, so under "ALL" sync Frappe's cursor (highest received UID + 1) never skips one.

Limits: a mail may be held back until the next pull (it was fetched but the pull died first);
nothing is processed twice. Under another app's fetch loop (see `get_inbound_mails`) Frappe's
marking applies. A mail the server cannot even hand out is Frappe's "Unable to fetch email" error.
"""

import hashlib
import imaplib
import socket
import sys
from contextlib import suppress
from contextvars import ContextVar
from email import message_from_string
from functools import lru_cache, partial

import frappe
import pymysql
from frappe import _
from frappe.email.doctype.email_account.email_account import EmailAccount
from frappe.email.receive import EmailServer, InboundMail, LoginLimitExceeded, SentEmailInInboxError
from rq.timeouts import JobTimeoutException

from case_threads.core.settle import (
	DONE,
	GIVEN_UP,
	MAX_ATTEMPTS,
	Pulled,
	Step,
	message_key,
	next_step,
	to_forget,
)
from case_threads.mail import neighbour, pull_ledger

OUR_PATH = "case_threads.mail.email_account.CaseThreadsEmailAccount"

# False: the app's fetch loop as before issue 18 (Frappe marks \Seen / deletes on fetch). Only the
# benchmark (benchmarks/run.py, "deferred marking") turns it off, to measure what the guarantee costs.
DEFER_MARKING = True

# The InboundMail being processed right now (None outside Email Account.receive()).
current_inbound_mail: ContextVar = ContextVar("case_threads_inbound_mail", default=None)


class _PublishesRawMail:
	"""Mixed into the InboundMail class actually in use: publishes the mail while it is processed and
	keeps it as an Unhandled Email if processing fails."""

	def process(self):
		token = current_inbound_mail.set(self)
		# Set by our own fetch loop only (None under another app's loop: then Frappe's marking applies).
		key = getattr(self, "case_threads_key", None)
		account = self.email_account
		try:
			if not key:
				# Our fetch loop took the lock (and read the receipt under it) before building the mail.
				hold_message_id(self.message_id)
			result = super().process()
			if key:
				pull_ledger.settle(account.name, key)  # commits with the outcome, or not at all
			return result
		except SentEmailInInboxError:
			if key:  # Frappe skips it on purpose: settled, so it is not fetched for ever
				frappe.db.rollback()
				pull_ledger.settle(account.name, key)
				frappe.db.commit()
			raise  # Frappe's own "our mail came back" case: it skips it on purpose.
		except Exception as e:
			if key and interruption(e):
				account.case_threads_pull().interrupt(e, key)
				return None
			# Whatever failed (Frappe rejecting the sender, a database error, …), the mail is kept as an
			# Unhandled Email, for POP too (deleted on fetch), and the Email Account's loop goes on.
			frappe.db.rollback()
			if self.flags.get("case_threads_retry"):
				raise  # A Retry of an Unhandled Email: it is kept already (case_threads.mail.unhandled).
			traceback = frappe.get_traceback()
			self.email_account.log_error(title=_("Inbound email kept as Unhandled Email"), message=traceback)
			keep_unhandled(self.email_account, self.raw_message, self.uid, traceback, key=key)
			return None
		finally:
			current_inbound_mail.reset(token)

	def reference_document(self):
		# The app decides the case of its own mail itself, from evidence it trusts
		# (inbound.before_insert drops Frappe's guess): on a mailbox without Append To, loading the
		# Case that In-Reply-To points at (and validating the link to it) is work thrown away. A reply
		# threaded onto another app's document keeps Frappe's reference (inbound.on_another_document).
		append_to = self.append_to if self.email_account.use_imap else None
		if self._reference_document is None and not (append_to or self.email_account.append_to):
			parent = self.parent_email_queue() or self.parent_communication()
			if not parent or parent.reference_doctype in (None, "", "Case"):
				self._reference_document = ""
		return super().reference_document()

	def save_attachments_in_doc(self, doc):
		# An attachment Frappe refuses, or one over the size limits, no longer fails the whole mail.
		from case_threads.mail.attachments import save_attachments

		return save_attachments(self, doc)


def hold_message_id(message_id):
	"""One email pulled by two mailboxes at once: the second waits here until the first committed.

	Frappe's own "already received" check then sees the first copy, as it would in turn. The lock is
	taken on a fresh transaction (Frappe commits after every mail anyway) so that the check reads
	what the other pull committed, not an older snapshot.
	"""
	if not message_id:
		return
	frappe.db.commit()
	take_lock(message_id)
	release_lock_with_transaction(message_id)


def lock_name(message_id):
	return "case_threads:" + hashlib.sha1(message_id.encode()).hexdigest()


def take_lock(message_id):
	frappe.db.sql("SELECT GET_LOCK(%s, 60)", lock_name(message_id))


def release_lock_with_transaction(message_id):
	"""Released once the transaction under way ends (its commit or rollback), not before."""
	release = partial(frappe.db.sql, "SELECT RELEASE_LOCK(%s)", lock_name(message_id))
	frappe.db.after_commit.add(release)
	frappe.db.after_rollback.add(release)


def key_lock(key):
	"""The lock of a keyed mail: its Message-ID, as hold_message_id takes it from Frappe's parse
	(stripped of <>), else its SHA-256 key."""
	return key[4:] if key.startswith("mid:") else key


@lru_cache(maxsize=8)
def _publishing_class(cls):
	return type(f"CaseThreads{cls.__name__}", (_PublishesRawMail, cls), {})


def keep_unhandled(email_account, raw, uid, reason, key=None, settled_as=DONE):
	"""Record a mail the way Frappe records a failed IMAP mail (Unhandled Email), committed at once
	(with its receipt settled in the same transaction when the pull keyed it)."""
	text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
	try:
		message_id = message_from_string(text).get("Message-ID")
	except Exception:
		message_id = None
	frappe.get_doc(
		{
			"doctype": "Unhandled Email",
			"raw": text,
			"uid": uid,
			"reason": reason,
			"message_id": message_id,
			"email_account": email_account.name,
		}
	).insert(ignore_permissions=True)
	if key:
		pull_ledger.settle(email_account.name, key, settled_as)
	frappe.db.commit()


def _base_class():
	"""The Email Account class that would be in use without this app (e.g. Helpdesk's)."""
	paths = [p for p in frappe.get_hooks("override_doctype_class").get("Email Account", []) if p != OUR_PATH]
	return frappe.get_attr(paths[-1]) if paths else EmailAccount


class CaseThreadsEmailAccountMixin:
	def receive(self):
		if not (self._uses_our_fetch_loop() and DEFER_MARKING):
			return super().receive()
		pull = self._case_threads_pull = _Pull(self)
		clean = False
		try:
			super().receive()
			clean = True
		except Exception as e:
			# A lost database connection outside a mail (Frappe's commit, notifications): what did not
			# commit waits for the next pull. Anything else is Frappe's to report, as before.
			cut = interruption(e)
			if cut is None:
				clean = True  # Frappe's own report after its loop: each mail committed or rolled back
				raise
			pull.interrupt(cut)
		finally:
			pull.finish(commit=clean)
			self._case_threads_pull = None
		if isinstance(pull.cut, JobTimeoutException):
			raise pull.cut  # RQ records the timeout; what committed is marked, the rest is fetched again

	def case_threads_pull(self):
		return getattr(self, "_case_threads_pull", None) or _Pull(self)

	def _uses_our_fetch_loop(self):
		# The app's own mailboxes (no Append To, or Case), under whichever class is in effect.
		return neighbour.handles(self)

	def get_inbound_mails(self):
		if self._uses_our_fetch_loop():
			# The app's mailbox: its own loop, also under another app's class (Helpdesk's would skip
			# mail with an X-Auto-Generated header, and drop a whole batch on one unreadable mail).
			mails = self._inbound_mails_one_by_one()
		else:
			# Another app's mailbox (e.g. Append To = HD Ticket): its class's own fetch loop and flow.
			mails = super().get_inbound_mails()
		for mail in mails:
			mail.__class__ = neighbour.mail_class(mail, _publishing_class)
			yield mail

	def _inbound_mails_one_by_one(self):
		"""Frappe's fetch loop, but one mail Frappe cannot parse (no From, …) no longer drops the
		whole batch: it is kept as an Unhandled Email instead; and nothing is marked seen or deleted
		before its outcome committed (see the module docstring). Lazy: Frappe's receive() processes
		and commits each mail before asking for the next."""
		if not self.enable_incoming:
			return
		pull = self.case_threads_pull()
		fetched = []
		try:
			server = self.get_incoming_server(in_receive=True, email_sync_rule=self.build_email_sync_rule())
			if DEFER_MARKING:
				server.__class__ = DeferringEmailServer
				pull.server = server  # logged out by pull.finish(), after the marking
			if self.use_imap:
				for folder in self.imap_folder:
					if server.select_imap_folder(folder.folder_name):
						server.settings["uid_validity"] = folder.uidvalidity
						name = f'"{folder.folder_name}"'
						messages = server.get_messages(folder=name) or {}
						# Frappe marks only under UNSEEN sync (not ALL, nor a re-sync after UIDVALIDITY changed).
						fetched.append(
							(name, messages, folder.append_to, server.settings.email_sync_rule == "UNSEEN")
						)
			else:
				fetched.append((None, server.get_messages() or {}, None, True))
			if not DEFER_MARKING:
				server.logout()
		except JobTimeoutException:
			raise
		except Exception:
			self.log_error(title=_("Error while connecting to email account {0}").format(self.name))
		for folder, messages, append_to, forget in fetched:
			yield from self._build_inbound_mails(messages, append_to, folder=folder, forget=forget)

	def _build_inbound_mails(self, messages, append_to=None, folder=None, forget=True):
		pull = self.case_threads_pull()
		uids = messages.get("uid_list") or []
		refs = messages.get("case_threads_refs")  # the UID or POP number of each fetched mail
		for index, raw in enumerate(messages.get("latest_messages", [])):
			if pull.cut is not None:
				return  # stop at the first mail that did not commit: the rest waits for the next pull
			ref = refs[index] if refs else (uids[index] if uids else index + 1)
			uid = ref if self.use_imap else None
			seen_status = messages.get("seen_status", {}).get(uid)
			if self.email_sync_option == "UNSEEN" and seen_status == "SEEN":
				continue
			if not DEFER_MARKING:
				yield from self._unkeyed_mail(raw, uid, seen_status, append_to)
				continue
			key = message_key(raw)
			uid = frappe.safe_decode(uid) if uid else None
			pull.fetched.append(Pulled(folder, str(frappe.safe_decode(ref)), key, forget))
			# One email pulled by two mailboxes at once: the second waits here until the first
			# committed (hold_message_id). Taken before the receipt is counted, so that its status is
			# read as another pull of this mailbox may just have committed it; the receipt's commit
			# then gives the mail a fresh snapshot for Frappe's "already received" check.
			in_receive = getattr(self, "_case_threads_pull", None) is pull
			if in_receive:
				pull.hold(key_lock(key))  # released with the next mail's lock, or by finish()
			else:
				take_lock(key_lock(key))
			status, attempts = pull_ledger.begin(self.name, key, uid)
			if not in_receive:
				release_lock_with_transaction(key_lock(key))
			step = next_step(status, attempts)
			if step is Step.SKIP:
				if self.email_sync_option == "ALL" and uid and key.startswith("mid:"):
					# What Frappe's "already received" path does: keeps the ALL-sync cursor right.
					frappe.db.set_value(
						"Communication",
						{"message_id": key[4:], "email_account": self.name},
						"uid",
						uid,
						update_modified=False,
					)
					frappe.db.commit()
				continue
			if step is Step.GIVE_UP:
				reason = _(
					"Given up after {0} attempts: the pull stopped each time while processing this email"
				).format(MAX_ATTEMPTS)
				keep_unhandled(self, raw, uid, reason, key=key, settled_as=GIVEN_UP)
				continue
			try:
				mail = InboundMail(raw, self, uid, seen_status, append_to)
			except Exception as e:
				if interruption(e):
					pull.interrupt(e, key)
					return
				self.log_error(title=_("Frappe could not read an inbound email"))
				keep_unhandled(self, raw, uid, frappe.get_traceback(), key=key)
				continue
			mail.case_threads_key = key
			yield mail

	def _unkeyed_mail(self, raw, uid, seen_status, append_to):
		"""The loop before issue 18 (DEFER_MARKING off): no receipt, Frappe marked it on fetch."""
		uid = frappe.safe_decode(uid) if uid else None
		try:
			yield InboundMail(raw, self, uid, seen_status, append_to)
		except Exception:
			self.log_error(title=_("Frappe could not read an inbound email"))
			keep_unhandled(self, raw, uid, frappe.get_traceback())

	def log_error(self, title=None, message=None):
		# Frappe's receive loop logs whatever failed after process() ("EmailAccount.receive"). A job
		# timeout or a lost connection landing there is the pull's interruption (handle_bad_emails
		# below), already recorded once by the job runner: not a second Error Log.
		if getattr(self, "_case_threads_pull", None) is not None and interruption(sys.exc_info()[1]):
			return None
		return super().log_error(title=title, message=message)

	def handle_bad_emails(self, uid, raw, reason):
		"""Frappe's receive() calls this when something after process() failed (its commit, the
		notifications): never a second record of a mail whose outcome committed."""
		pull = getattr(self, "_case_threads_pull", None)
		if pull is None:
			return super().handle_bad_emails(uid, raw, reason)
		cut = interruption(sys.exc_info()[1])
		if cut is not None:
			pull.interrupt(cut)
			return
		key = message_key(raw)
		if not pull_ledger.is_settled(self.name, key):
			keep_unhandled(self, raw, uid, reason, key=key)

	def send_auto_reply(self, communication, email):
		# Never acknowledge auto-replies, bounces or bulk mail: that is how mail loops start.
		if email.flags.get("case_threads_silent"):
			return
		# Mail the app decided for (a case or the Unprocessed queue) is acknowledged by the app's own
		# per-route acknowledgement (case_threads.mail.acknowledge), never a second time by Frappe's
		# per-account enable_auto_reply.
		if communication and communication.flags.get("case_threads_inbound"):
			return
		return super().send_auto_reply(communication, email)


class DeferringEmailServer(EmailServer):
	"""Frappe's EmailServer, but a fetched mail is neither marked \\Seen nor deleted: `forget` does
	that for the mails whose outcome committed. It also keeps the real UID / POP number of each
	fetched mail (Frappe pairs them by position, which shifts after a failed fetch), and stops
	fetching when the server connection breaks (Frappe tries, and logs, every remaining mail)."""

	def get_messages(self, *args, **kwargs):
		self.case_threads_refs = []
		out = super().get_messages(*args, **kwargs)
		out["case_threads_refs"] = self.case_threads_refs
		return out

	def retrieve_message(self, uid, msg_num):
		try:
			if self.settings.use_imap:
				_status, message = self.imap.uid("fetch", uid, "(BODY.PEEK[] BODY.PEEK[HEADER] FLAGS)")
				raw = message[0]
				self.get_email_seen_status(uid, raw[0])
				self.latest_messages.append(raw[1])
				self.case_threads_refs.append(uid)
			else:
				msg = self.pop.retr(msg_num)
				self.latest_messages.append(b"\n".join(msg[1]))
				self.case_threads_refs.append(msg_num)
		except (OSError, imaplib.IMAP4.abort) as e:
			raise TimeoutError(str(e)) from e  # get_messages keeps what was fetched and stops
		except Exception as e:
			if self.has_login_limit_exceeded(e):
				raise LoginLimitExceeded(e) from e
			frappe.log_error("Unable to fetch email", self.make_error_msg(uid, msg_num))

	def forget(self, plan):
		"""Mark \\Seen (IMAP) or delete (POP) the mails of `plan` ({folder: [refs]}), on the connection
		of the fetch: a mail not reached stays for the next pull, which skips it as settled."""
		for folder, refs in plan.items():
			if self.settings.use_imap:
				self.imap.select(folder)
				self.imap.uid("STORE", ",".join(refs), "+FLAGS", "(\\Seen)")
			else:
				for ref in refs:
					self.pop.dele(int(ref))


class _Pull:
	"""One receive(): the mails fetched, the connection kept open to forget them, and what cut the
	pull short (a lost database connection or a job timeout), if anything."""

	def __init__(self, account):
		self.account, self.server, self.fetched, self.cut = account, None, [], None
		self.held = None  # the Message-ID lock of the last mail (see hold)

	def hold(self, message_id):
		"""Take the lock of the next mail, releasing the previous mail's in the same statement: by
		now Frappe's receive loop committed (or rolled back) that mail's outcome, so a second pull of
		it waiting on the lock sees it. One round trip per mail instead of two."""
		name = lock_name(message_id)
		if self.held:
			frappe.db.sql("SELECT RELEASE_LOCK(%s), GET_LOCK(%s, 60)", (self.held, name))
		else:
			frappe.db.sql("SELECT GET_LOCK(%s, 60)", name)
		self.held = name

	def release(self):
		held, self.held = self.held, None
		if held:
			with suppress(Exception):
				frappe.db.sql("SELECT RELEASE_LOCK(%s)", held)

	def interrupt(self, error, key=None):
		if self.cut is None:
			self.cut = error
		self.held = None  # closing the connection frees its locks
		reconnect_db()
		if key:
			with suppress(Exception):
				pull_ledger.forget_attempt(self.account.name, key)

	def finish(self, commit=True):
		"""Forget on the server exactly the fetched mails whose outcome committed; never raises.

		`commit`: the receive loop ended cleanly, so what is left is the fetch's own bookkeeping
		(the folder's UIDVALIDITY), which Frappe commits too; otherwise it is rolled back."""
		if self.server is None:
			self.release()  # Frappe's loop committed or rolled back the last mail by now
			return
		try:
			try:
				frappe.db.commit() if commit else frappe.db.rollback()  # and a fresh snapshot to read
			except Exception:
				self.held = None  # closing the connection frees its locks
				reconnect_db()
			self.release()
			settled = pull_ledger.settled_keys(self.account.name, {p.key for p in self.fetched})
			self.server.forget(to_forget(self.fetched, settled))
		except Exception as e:
			if isinstance(e, JobTimeoutException) and self.cut is None:
				self.cut = e
			# Left unmarked, they are fetched again and skipped as settled by the next pull: nothing for
			# a person to do, so a log line rather than an Error Log.
			frappe.logger("case_threads").warning(
				"%s: could not mark pulled emails as seen on the mail server (the next pull will): %s",
				self.account.name,
				e,
			)
		finally:
			self.release()
			with suppress(Exception):
				self.server.logout()  # under POP, QUIT is what applies the deletions


# Lost, gone away, killed, server shutdown, idle disconnect; deadlock and lock wait timeout (another
# worker's transaction, not this email's fault: it is pulled again by the next pull).
LOST_CONNECTION = {2006, 2013, 2055, 1927, 1053, 4031, 1213, 1205}


def interruption(error):
	"""The error (or its cause) if it is a lost database connection or an RQ job timeout."""
	seen = set()
	while error is not None and id(error) not in seen:
		seen.add(id(error))
		if isinstance(error, JobTimeoutException | pymysql.InterfaceError):
			return error
		if isinstance(error, pymysql.OperationalError) and error.args and error.args[0] in LOST_CONNECTION:
			return error
		error = error.__cause__ or error.__context__
	return None


def reconnect_db():
	"""A fresh database connection: the old one may be dead, or cut mid-reply by a job timeout.
	Closing it makes the server roll back its transaction and free its locks."""
	with suppress(Exception):
		frappe.db._conn.close()
	frappe.db.connect()
	frappe.db.rollback()


@lru_cache(maxsize=8)
def _account_class(base):
	return type("CaseThreadsEmailAccount", (CaseThreadsEmailAccountMixin, base), {"__module__": __name__})


def __getattr__(name):
	# Built when Frappe asks for the controller (inside a site, where other apps' hooks are known),
	# not at import time: this module is also imported outside any site.
	if name == "CaseThreadsEmailAccount":
		return _account_class(_base_class())
	raise AttributeError(name)
