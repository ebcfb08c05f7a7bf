"""Participants (F21): who joins a case, and whom Reply All proposes."""

from case_threads.core.participants import new_participants, reply_all_cc


def test_new_participants_skip_known_own_and_internal_addresses():
	out = new_participants(
		existing=["ada@customer.test"],
		candidates=[
			("Ada@Customer.test", "Ada"),
			("bob@customer.test", "Bob"),
			("support@site.test", "Support"),
			("agent@site.test", "Agent"),
			("BOB@customer.test", "Bob again"),
			("", "nobody"),
			("not-an-address", ""),
			("carl@partner.test", ""),
		],
		excluded=["support@site.test", "Agent@site.test"],
	)
	assert out == [("bob@customer.test", "Bob"), ("carl@partner.test", "")]


def test_reply_all_proposes_participants_not_in_to_nor_ours():
	assert reply_all_cc(
		["ada@customer.test", "bob@customer.test", "support@site.test", "Bob@customer.test"],
		to=["ada@customer.test"],
		own=["support@site.test"],
	) == ["bob@customer.test"]
