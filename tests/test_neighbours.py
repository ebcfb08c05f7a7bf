"""Pure tests of case_threads.core.neighbours (which mail is the app's beside Helpdesk)."""

import pytest

from case_threads.core.neighbours import (
	OURS,
	duplicate_of,
	handles_account,
	mail_side,
	parent_on_side,
	side_of_target,
)


@pytest.mark.parametrize(
	("append_to", "side"),
	[(None, OURS), ("", OURS), ("Case", OURS), ("HD Ticket", "HD Ticket"), ("Issue", "Issue")],
)
def test_side_of_target(append_to, side):
	assert side_of_target(append_to) == side


@pytest.mark.parametrize(
	("folder", "account", "side"),
	[
		(None, None, OURS),
		("Case", None, OURS),
		(None, "Case", OURS),
		("HD Ticket", None, "HD Ticket"),
		(None, "HD Ticket", "HD Ticket"),  # Helpdesk's Frappe Mail accounts set the account's only
		("Case", "HD Ticket", "HD Ticket"),
		("HD Ticket", "Case", "HD Ticket"),
	],
)
def test_mail_side(folder, account, side):
	assert mail_side(folder, account) == side


@pytest.mark.parametrize(
	("account", "folders", "handled"),
	[
		(None, [], True),
		(None, [None], True),
		("Case", [None, "Case"], True),
		(None, ["HD Ticket"], False),
		(None, [None, "HD Ticket"], False),
		("HD Ticket", [], False),
		("Issue", [None], False),
	],
)
def test_handles_account(account, folders, handled):
	assert handles_account(account, folders) is handled


def row(name, account, doctype):
	return {"name": name, "email_account": account, "reference_doctype": doctype}


def test_duplicate_same_mailbox_is_a_repull_whatever_its_side():
	stored = [row("C1", "Support", "HD Ticket")]
	assert duplicate_of(stored, "Support", OURS) == "C1"


def test_duplicate_same_side_other_mailbox():
	assert duplicate_of([row("C1", "Sales", "Case")], "Support", OURS) == "C1"
	assert duplicate_of([row("C1", "Sales", None)], "Support", OURS) == "C1"
	assert duplicate_of([row("C1", "HD", "HD Ticket")], "HD 2", "HD Ticket") == "C1"


def test_other_side_copy_is_not_a_duplicate():
	assert duplicate_of([row("C1", "HD", "HD Ticket")], "Support", OURS) is None
	assert duplicate_of([row("C1", "Support", "Case")], "HD", "HD Ticket") is None
	assert duplicate_of([], "Support", OURS) is None


def test_duplicate_takes_first_match_in_given_order():
	stored = [row("new", "HD", "HD Ticket"), row("old", "Support", "Case"), row("older", "Sales", "Case")]
	assert duplicate_of(stored, "Support", OURS) == "old"


def test_parent_on_side_only_chooses_between_copies():
	assert parent_on_side([], OURS) is None
	assert parent_on_side([row("C1", "HD", "HD Ticket")], OURS) is None
	both = [row("H", "HD", "HD Ticket"), row("C", "Support", "Case")]
	assert parent_on_side(both, OURS) == "C"
	assert parent_on_side(both, "HD Ticket") == "H"
	assert parent_on_side([row("A", "x", "Issue"), row("B", "y", "Issue")], OURS) is None
