"""Inbound Mail Receipt rows: one per (Email Account, mail key), written by the pull (issue 18).

`begin` counts an attempt and commits it BEFORE the mail is processed (so a pull killed while
processing it still counted it); `settle` turns the receipt Done inside the transaction of the mail's
outcome, so "Done" and the outcome commit together or not at all. The decisions are in
case_threads.core.settle.
"""

import hashlib

import frappe
from frappe.utils import add_days, now_datetime

from case_threads.core.settle import DONE, GIVEN_UP, PENDING, SETTLED

TABLE = "`tabInbound Mail Receipt`"

# Settled receipts are only needed while the server may still hand their mail out again.
KEEP_DAYS = 90


def receipt_name(email_account, key):
	return hashlib.sha1(f"{email_account}\0{key}".encode()).hexdigest()[:20]


def begin(email_account, key, uid):
	"""Count one attempt (not for a settled mail) and commit it; returns (status, attempts).

	One statement: MariaDB's RETURNING gives the row as the upsert left it (inserted or updated)."""
	name, now = receipt_name(email_account, key), now_datetime()
	status, attempts = frappe.db.sql(
		f"""insert into {TABLE}
			(name, creation, modified, owner, modified_by, docstatus, idx,
			 email_account, message_key, uid, attempts, status)
		values (%(name)s, %(now)s, %(now)s, 'Administrator', 'Administrator', 0, 0,
			%(account)s, %(key)s, %(uid)s, 1, %(pending)s)
		on duplicate key update
			attempts = if(status = %(pending)s, attempts + 1, attempts),
			uid = values(uid), modified = values(modified)
		returning status, attempts""",
		{"name": name, "now": now, "account": email_account, "key": key, "uid": uid, "pending": PENDING},
	)[0]
	frappe.db.commit()
	return status, attempts


def is_settled(email_account, key):
	"""Read in the current transaction (take it after a commit or lock to see other pulls' work)."""
	status = frappe.db.sql(
		f"select status from {TABLE} where name = %s", receipt_name(email_account, key), pluck=True
	)
	return bool(status) and status[0] in SETTLED


def settle(email_account, key, status=DONE):
	"""Mark the receipt settled in the current transaction: it commits with the mail's outcome."""
	frappe.db.sql(
		f"update {TABLE} set status = %s, modified = %s where name = %s",
		(status, now_datetime(), receipt_name(email_account, key)),
	)


def give_up(email_account, key):
	settle(email_account, key, GIVEN_UP)


def forget_attempt(email_account, key):
	"""The attempt was cut short by something else (lost connection, job timeout): don't count it."""
	frappe.db.sql(
		f"update {TABLE} set attempts = greatest(attempts - 1, 0) where name = %s and status = %s",
		(receipt_name(email_account, key), PENDING),
	)
	frappe.db.commit()


def settled_keys(email_account, keys):
	"""Which of `keys` have a committed outcome (read after a rollback: a fresh snapshot)."""
	names = {receipt_name(email_account, key): key for key in keys}
	if not names:
		return set()
	rows = frappe.db.sql(
		f"select name from {TABLE} where name in %(names)s and status in %(settled)s",
		{"names": list(names), "settled": list(SETTLED)},
		pluck=True,
	)
	return {names[name] for name in rows}


def forget_old():
	"""Daily: drop settled receipts older than KEEP_DAYS (their mail left the server long ago)."""
	frappe.db.sql(
		f"delete from {TABLE} where status in %(settled)s and modified < %(before)s",
		{"settled": list(SETTLED), "before": add_days(now_datetime(), -KEEP_DAYS)},
	)
	frappe.db.commit()
