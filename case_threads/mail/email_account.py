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

from contextvars import ContextVar
from functools import lru_cache

import frappe
from frappe.email.doctype.email_account.email_account import EmailAccount

OUR_PATH = "case_threads.mail.email_account.CaseThreadsEmailAccount"

# The InboundMail being processed right now (None outside Email Account.receive()).
current_inbound_mail: ContextVar = ContextVar("case_threads_inbound_mail", default=None)


class _PublishesRawMail:
	"""Mixed into the InboundMail class actually in use; publishes the mail while it is processed."""

	def process(self):
		token = current_inbound_mail.set(self)
		try:
			return super().process()
		except Exception:
			# Frappe only keeps failed IMAP mail (Unhandled Email); POP deletes on fetch.
			if not self.email_account.use_imap:
				save_unhandled(self.email_account, self, frappe.get_traceback())
			raise
		finally:
			current_inbound_mail.reset(token)


@lru_cache(maxsize=8)
def _publishing_class(cls):
	return type(f"CaseThreads{cls.__name__}", (_PublishesRawMail, cls), {})


def save_unhandled(email_account, mail, reason):
	"""Record a POP mail the way Frappe records a failed IMAP mail, committed at once."""
	frappe.db.rollback()
	raw = mail.raw_message
	frappe.get_doc(
		{
			"doctype": "Unhandled Email",
			"raw": raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw,
			"uid": mail.uid,
			"reason": reason,
			"message_id": mail.mail.get("Message-ID"),
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
		mails = super().get_inbound_mails()
		for mail in mails:
			mail.__class__ = _publishing_class(type(mail))
		return mails

	def send_auto_reply(self, communication, email):
		# Never acknowledge auto-replies, bounces or bulk mail: that is how mail loops start.
		if email.flags.get("case_threads_silent"):
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
