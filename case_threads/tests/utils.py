"""Helpers for integration tests: real Email Accounts, real mail bytes, Frappe's own receive path.

Only the network edge of Frappe's EmailServer (connect/select/fetch/logout) is replaced: the
messages go through EmailAccount.receive(), InboundMail and Communication as in production.
"""

import itertools
import os
import secrets
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from unittest.mock import patch

import frappe
from frappe.email.receive import EmailServer
from frappe.utils import now_datetime

from case_threads.mail.email_account import DeferringEmailServer

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
_uids = itertools.count(1000)


def corpus_path():
	return Path(os.environ.get("CASE_THREADS_CORPUS") or CORPUS)


def note_not_run(test_id, why):
	"""List a test that could not run where scripts/test shows it at the end of the run."""
	path = os.environ.get("CASE_THREADS_NOT_RUN_FILE")
	if path:
		with open(path, "a") as f:
			f.write(f"{test_id}: {why}\n")


def require_corpus(test):
	"""The corpus folder. Without it the test fails; when scripts/test runs outside CI
	(CASE_THREADS_CORPUS_OPTIONAL) it is skipped instead and named in the run's NOT RUN list."""
	if (corpus_path() / "index.csv").exists():
		return corpus_path()
	why = f"mail corpus missing at {corpus_path()} (set CASE_THREADS_CORPUS)"
	if os.environ.get("CASE_THREADS_CORPUS_OPTIONAL"):
		note_not_run(test.id(), why)
		test.skipTest("!! " + why)
	test.fail(why)


def unique(prefix="x"):
	return f"{prefix}-{secrets.token_hex(4)}"


# A test mailbox that sends (nothing listens there: run-tests does not send unless told to).
SENDS = {"enable_outgoing": 1, "smtp_server": "127.0.0.1", "smtp_port": 25, "default_outgoing": 1}


def make_mailbox(email_id, use_imap=1, outgoing=0):
	"""An Email Account that pulls `email_id` (no append_to: the app decides)."""
	name = f"CT {email_id}"
	if frappe.db.exists("Email Account", name):
		doc = frappe.get_doc("Email Account", name)
		if outgoing and not doc.enable_outgoing:
			# Made earlier by a test that did not need to send: now it must.
			doc.update(SENDS)
			doc.save(ignore_permissions=True)
			frappe.db.commit()
		return doc
	doc = frappe.get_doc(
		{
			"doctype": "Email Account",
			"email_account_name": name,
			"email_id": email_id,
			"enable_incoming": 1,
			"use_imap": use_imap,
			"email_server": "127.0.0.1",
			"incoming_port": 143,
			"password": "unused",
			**(SENDS if outgoing else {}),
			"imap_folder": [{"folder_name": "INBOX"}] if use_imap else [],
		}
	)
	doc.insert(ignore_permissions=True)
	frappe.db.commit()
	return frappe.get_doc("Email Account", doc.name)


def build_mail(
	subject,
	sender,
	to="support@ct.test",
	*,
	message_id=None,
	in_reply_to=None,
	references=None,
	cc=None,
	headers=None,
	body="Hello, I need help.",
):
	msg = EmailMessage()
	msg["From"] = sender
	if to:
		msg["To"] = to
	if cc:
		msg["Cc"] = cc
	msg["Subject"] = subject
	msg["Date"] = format_datetime(now_datetime().astimezone())
	msg["Message-ID"] = message_id or make_msgid(domain="customer.test")
	if in_reply_to:
		msg["In-Reply-To"] = in_reply_to
	if references:
		msg["References"] = references
	for key, value in (headers or {}).items():
		msg[key] = value
	msg.set_content(body)
	return msg.as_bytes()


def receive(mailbox, *raw_mails):
	"""Let Frappe's Email Account pull `raw_mails` as if the server had them."""
	uids = [next(_uids) for _ in raw_mails]
	if mailbox.use_imap:
		messages = {'"INBOX"': {"latest_messages": list(raw_mails), "uid_list": uids, "seen_status": {}}}
	else:
		messages = {None: {"latest_messages": list(raw_mails)}}

	with (
		patch.object(EmailServer, "connect", return_value=True),
		patch.object(EmailServer, "select_imap_folder", return_value=True),
		patch.object(EmailServer, "logout", return_value=None),
		patch.object(DeferringEmailServer, "forget", return_value=None),  # marking \Seen after commit
		patch.object(
			EmailServer, "get_messages", side_effect=lambda folder=None, **kw: messages.get(folder, {})
		),
	):
		mailbox.receive()


def communication_for(message_id):
	"""The Communication Frappe made for a Message-ID (with or without <>)."""
	return frappe.get_doc("Communication", {"message_id": message_id.strip("<>")})


def case_of(message_id):
	return communication_for(message_id).reference_name if message_id else None


def make_user(email_id, roles, mailboxes=()):
	if not frappe.db.exists("User", email_id):
		user = frappe.get_doc(
			{
				"doctype": "User",
				"email": email_id,
				"first_name": email_id.split("@")[0],
				"send_welcome_email": 0,
			}
		)
		user.insert(ignore_permissions=True)
	user = frappe.get_doc("User", email_id)
	user.add_roles(*roles)
	for mailbox in mailboxes:
		if mailbox not in [row.email_account for row in user.user_emails]:
			user.append("user_emails", {"email_account": mailbox})
	user.save(ignore_permissions=True)
	frappe.db.commit()
	return email_id
