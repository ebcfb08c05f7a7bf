"""F19: what routing and matching would do with a folder of .eml files or an mbox, writing nothing."""

import mailbox
from collections import Counter
from pathlib import Path

import frappe

from case_threads.case_threads.doctype.email_route.email_route import enabled_routes
from case_threads.core import decide as core_decide
from case_threads.core import parse_message
from case_threads.mail.evidence import gather_candidates, is_internal_user


def raw_mails(path):
	"""(name, bytes) of every mail in an mbox file or a folder of mail files."""
	path = Path(path)
	if path.is_dir():
		for file in sorted(p for p in path.rglob("*") if p.is_file()):
			yield str(file.relative_to(path)), file.read_bytes()
	else:
		for index, message in enumerate(mailbox.mbox(str(path))):
			yield f"{path.name}#{index + 1}", message.as_bytes()


def preview_mail(raw, routes, email_account=None):
	"""(outcome, case or route, reason) for one raw mail; the database is only read."""
	message = parse_message(raw)
	sender = message.reply_to or message.from_addr
	action = core_decide(
		message,
		gather_candidates(message, sender),
		routes,
		email_account=email_account,
		sender_is_internal=is_internal_user(sender),
	)
	target = action.case or (action.route.name if action.route else "")
	return action.outcome.value, target, action.reason or action.message_class.value


def preview(mails, email_account=None):
	"""Rows of (mail, outcome, case or route, reason) for (name, raw) pairs, and the totals."""
	routes = enabled_routes()
	try:
		rows = [(name, *preview_mail(raw, routes, email_account)) for name, raw in mails]
	finally:
		frappe.db.rollback()
	return rows, Counter(row[1] for row in rows)
