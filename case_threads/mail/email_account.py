"""Email Account override: lets the inbound hook read the raw message Frappe is processing.

Frappe's Communication keeps neither References, Auto-Submitted, Precedence, Delivered-To nor the
full encoded Subject, so the app needs the message itself. Frappe Helpdesk replaces the Email
Account class too (and builds its own InboundMail subclass in `get_inbound_mails`), so instead of
rewriting `get_inbound_mails` this override:

- subclasses whichever Email Account class another app registered before ours, and
- wraps each InboundMail that class returns (whatever its own class) so that `process()` publishes
  the mail in a context variable that `case_threads.mail.inbound` reads.

If another app's override is registered after ours, ours is not used: the inbound hook then works
from the Communication's own fields (see `inbound.current_message`).
"""

import hashlib
from contextvars import ContextVar
from email import message_from_string
from functools import lru_cache, partial

import frappe
from frappe import _
from frappe.email.doctype.email_account.email_account import EmailAccount
from frappe.email.receive import InboundMail, SentEmailInInboxError

OUR_PATH = "case_threads.mail.email_account.CaseThreadsEmailAccount"

# The InboundMail being processed right now (None outside Email Account.receive()).
current_inbound_mail: ContextVar = ContextVar("case_threads_inbound_mail", default=None)


class _PublishesRawMail:
	"""Mixed into the InboundMail class actually in use: publishes the mail while it is processed and
	keeps it as an Unhandled Email if processing fails."""

	def process(self):
		token = current_inbound_mail.set(self)
		try:
			hold_message_id(self.message_id)
			return super().process()
		except SentEmailInInboxError:
			raise  # Frappe's own "our mail came back" case: it skips it on purpose.
		except Exception:
			# Whatever failed (Frappe rejecting the sender, a database error, …), the mail is kept as an
			# Unhandled Email, for POP too (deleted on fetch), and the Email Account's loop goes on.
			frappe.db.rollback()
			traceback = frappe.get_traceback()
			self.email_account.log_error(title=_("Inbound email kept as Unhandled Email"), message=traceback)
			keep_unhandled(self.email_account, self.raw_message, self.uid, traceback)
			return None
		finally:
			current_inbound_mail.reset(token)


def hold_message_id(message_id):
	"""One email pulled by two mailboxes at once: the second waits here until the first committed.

	Frappe's own "already received" check then sees the first copy, as it would in turn. The lock is
	taken on a fresh transaction (Frappe commits after every mail anyway) so that the check reads
	what the other pull committed, not an older snapshot.
	"""
	if not message_id:
		return
	frappe.db.commit()
	lock = "case_threads:" + hashlib.sha1(message_id.encode()).hexdigest()
	frappe.db.sql("SELECT GET_LOCK(%s, 60)", lock)
	release = partial(frappe.db.sql, "SELECT RELEASE_LOCK(%s)", lock)
	frappe.db.after_commit.add(release)
	frappe.db.after_rollback.add(release)


@lru_cache(maxsize=8)
def _publishing_class(cls):
	return type(f"CaseThreads{cls.__name__}", (_PublishesRawMail, cls), {})


def keep_unhandled(email_account, raw, uid, reason):
	"""Record a mail the way Frappe records a failed IMAP mail (Unhandled Email), committed at once."""
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
	frappe.db.commit()


def _base_class():
	"""The Email Account class that would be in use without this app (e.g. Helpdesk's)."""
	paths = [p for p in frappe.get_hooks("override_doctype_class").get("Email Account", []) if p != OUR_PATH]
	return frappe.get_attr(paths[-1]) if paths else EmailAccount


class CaseThreadsEmailAccountMixin:
	def get_inbound_mails(self):
		if super().get_inbound_mails.__func__ is EmailAccount.get_inbound_mails:
			mails = self._inbound_mails_one_by_one()
		else:
			# Another app (e.g. Helpdesk) replaced the fetch loop: keep theirs.
			mails = super().get_inbound_mails()
		for mail in mails:
			mail.__class__ = _publishing_class(type(mail))
		return mails

	def _inbound_mails_one_by_one(self):
		"""Frappe's fetch loop, but one mail Frappe cannot parse (no From, …) no longer drops the
		whole batch (under POP, deleted on fetch): it is kept as an Unhandled Email instead."""
		if not self.enable_incoming:
			return []
		mails = []
		try:
			server = self.get_incoming_server(in_receive=True, email_sync_rule=self.build_email_sync_rule())
			if self.use_imap:
				for folder in self.imap_folder:
					if server.select_imap_folder(folder.folder_name):
						server.settings["uid_validity"] = folder.uidvalidity
						messages = server.get_messages(folder=f'"{folder.folder_name}"') or {}
						mails.extend(self._build_inbound_mails(messages, folder.append_to))
			else:
				mails.extend(self._build_inbound_mails(server.get_messages() or {}))
			server.logout()
		except Exception:
			self.log_error(title=_("Error while connecting to email account {0}").format(self.name))
		return mails

	def _build_inbound_mails(self, messages, append_to=None):
		uids = messages.get("uid_list") or []
		for index, raw in enumerate(messages.get("latest_messages", [])):
			uid = uids[index] if uids else None
			seen_status = messages.get("seen_status", {}).get(uid)
			if self.email_sync_option == "UNSEEN" and seen_status == "SEEN":
				continue
			try:
				yield InboundMail(raw, self, frappe.safe_decode(uid), seen_status, append_to)
			except Exception:
				self.log_error(title=_("Frappe could not read an inbound email"))
				keep_unhandled(self, raw, uid, frappe.get_traceback())

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


@lru_cache(maxsize=8)
def _account_class(base):
	return type("CaseThreadsEmailAccount", (CaseThreadsEmailAccountMixin, base), {"__module__": __name__})


def __getattr__(name):
	# Built when Frappe asks for the controller (inside a site, where other apps' hooks are known),
	# not at import time: this module is also imported outside any site.
	if name == "CaseThreadsEmailAccount":
		return _account_class(_base_class())
	raise AttributeError(name)
