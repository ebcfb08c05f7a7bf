"""Which mailboxes and stored emails are the app's, beside other apps (Frappe Helpdesk, ERPNext).

Plain functions on plain data (no Frappe): case_threads.mail.neighbour feeds them from the Email
Account, the InboundMail and the Communication rows.
"""

# Append To values that leave the decision to this app (no Append To at all, or Case).
OURS = "Case"


def side_of_target(append_to):
	"""The side an Append To puts mail on: OURS, or the other app's doctype (e.g. "HD Ticket")."""
	return OURS if append_to in (None, "", OURS) else append_to


def mail_side(folder_append_to, account_append_to):
	"""The side of one inbound mail: any other app's target (the IMAP folder's first, then the
	account's) makes it theirs, as Frappe would thread it there."""
	for target in (folder_append_to, account_append_to):
		if side_of_target(target) != OURS:
			return target
	return OURS


def handles_account(account_append_to, folder_append_tos):
	"""The app runs its own fetch loop only for a mailbox all of whose mail is its own."""
	return all(mail_side(folder, account_append_to) == OURS for folder in (folder_append_tos or [None]))


def stored_side(reference_doctype):
	"""The side of a stored email: on a Case or on nothing (parked) is ours, else its doctype's."""
	return side_of_target(reference_doctype)


def duplicate_of(stored, email_account, side):
	"""Which stored copy (newest first; dicts with name, email_account, reference_doctype) makes an
	inbound mail a re-pull rather than new mail, or None.

	Frappe keeps one Communication per Message-ID for the whole site. With two apps deciding mail,
	one email sent to a Helpdesk mailbox and to a Case mailbox is stored once on each side, so that
	neither app's first pull hides it from the other: a copy counts if the same mailbox stored it, or
	if it sits on the same side.
	"""
	for row in stored:
		if row["email_account"] == email_account or stored_side(row["reference_doctype"]) == side:
			return row["name"]
	return None


def parent_on_side(stored, side):
	"""When one Message-ID was stored on both sides, the copy a reply threads onto: its own side's.

	None when there is nothing to choose (zero or one copy): Frappe's own lookup stays as is.
	"""
	if len(stored) < 2:
		return None
	return next((row["name"] for row in stored if stored_side(row["reference_doctype"]) == side), None)
