"""Beside Frappe Helpdesk (or any app that replaces the Email Account class): the Frappe shell of
the mechanism described in case_threads/mail/email_account.py.

- `layer_email_account`: before_request / before_job hook that puts the app's mixin over the
  Email Account class in effect in this process, whatever the install order.
- `inbound_mail`: the InboundMail being processed, from the context variable the mixin sets or,
  when the class was not layered, from the call stack (raw headers are never missed).
- `handles`, `mail_class`: which mailboxes run the app's own fetch loop, which mails get the app's
  safety net; other apps' mail (e.g. Append To = HD Ticket) keeps their own flow.
- `_SidedMail`: one email sent to a Helpdesk mailbox and to a Case mailbox is stored once per side
  (core.neighbours.duplicate_of), in either order of pulls.
"""

import sys
from functools import lru_cache

import frappe
from frappe.email.receive import InboundMail

from case_threads.core.neighbours import OURS, duplicate_of, handles_account, mail_side, parent_on_side

CONTROLLER = "Email Account"


def layer_email_account(*args, **kwargs):
	"""before_request / before_job: the cached Email Account controller of this process and site
	becomes the app's mixin over the class Frappe chose (Helpdesk's when it was installed last)."""
	from frappe.model.base_document import import_controller

	from case_threads.mail.email_account import CaseThreadsEmailAccountMixin, _account_class

	site_controllers = frappe.controllers.setdefault(frappe.local.site, {})
	current = site_controllers.get(CONTROLLER) or import_controller(CONTROLLER)
	if not issubclass(current, CaseThreadsEmailAccountMixin):
		site_controllers[CONTROLLER] = _account_class(current)


def inbound_mail():
	"""The InboundMail whose Communication is being inserted, or None."""
	from case_threads.mail.email_account import current_inbound_mail

	mail = current_inbound_mail.get()
	if mail is not None:
		return mail
	# Another app's Email Account class ran without the app's mixin (e.g. under `bench start`, where
	# Frappe re-imports the controller for every document): InboundMail.process is on the stack.
	frame = sys._getframe(1)
	while frame is not None:
		candidate = frame.f_locals.get("self")
		if isinstance(candidate, InboundMail):
			return candidate
		frame = frame.f_back
	return None


def side(mail):
	return mail_side(mail.append_to, mail.email_account.append_to)


def handles(email_account):
	"""Whether all mail of this Email Account is decided by the app (no Append To, or Case)."""
	folders = [row.append_to for row in email_account.imap_folder] if email_account.use_imap else []
	return handles_account(email_account.append_to, folders)


def mail_class(mail, publishing_class):
	"""The class one fetched InboundMail is given: the app's (raw mail published, safety net) for
	its own mail; for another app's mail only the per-side lookups, so that its flow stays theirs."""
	cls = type(mail)
	if side(mail) == OURS:
		return _sided(publishing_class(cls))
	return _sided(cls)


@lru_cache(maxsize=16)
def _sided(cls):
	if issubclass(cls, _SidedMail):
		return cls
	return type(f"Sided{cls.__name__}", (_SidedMail, cls), {"__module__": __name__})


def _stored(message_id):
	return frappe.get_all(
		"Communication",
		filters={"message_id": message_id},
		fields=["name", "email_account", "reference_doctype"],
		order_by="creation desc",
	)


class _SidedMail:
	"""Frappe's two Message-ID lookups, kept to the mail's own side when both sides stored it."""

	def is_exist_in_system(self):
		if not self.message_id:
			return None
		name = duplicate_of(_stored(self.message_id), self.email_account.name, side(self))
		return frappe.get_doc("Communication", name) if name else None

	def parent_communication(self):
		if self._parent_communication is None and self.in_reply_to:
			stored = _stored(self.in_reply_to)
			# One copy: the one Frappe's own lookup by Message-ID would find, without asking again.
			name = stored[0]["name"] if len(stored) == 1 else parent_on_side(stored, side(self))
			if name:
				self._parent_communication = frappe.get_doc("Communication", name)
		return super().parent_communication()
