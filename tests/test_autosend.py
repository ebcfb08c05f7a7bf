"""Loop protection (F22): which automatic mail may go out, and why not, as a table."""

import pytest

from case_threads.core import MessageClass
from case_threads.core.autosend import (
	BOUNCED,
	DAILY_LIMIT,
	HOURLY_LIMIT,
	INTERNAL_USER,
	MACHINE_MAIL,
	NO_RECIPIENT,
	NOREPLY,
	OWN_MAILBOX,
	AutoSendFacts,
	Limits,
	autosend_block,
	failed_recipients,
	is_noreply,
	should_acknowledge,
)
from case_threads.core.lifecycle import Outcome

OWN = frozenset({"support@site.test", "sales@site.test"})


@pytest.mark.parametrize(
	"facts, expected",
	[
		(AutoSendFacts("ada@customer.test"), None),
		(AutoSendFacts(""), NO_RECIPIENT),
		(AutoSendFacts("not-an-address"), NO_RECIPIENT),
		(AutoSendFacts("ada@customer.test", message_class=MessageClass.AUTO_REPLY), MACHINE_MAIL),
		(AutoSendFacts("ada@customer.test", message_class=MessageClass.BOUNCE), MACHINE_MAIL),
		(AutoSendFacts("ada@customer.test", message_class=MessageClass.BULK), MACHINE_MAIL),
		(AutoSendFacts("Support@Site.test", own_addresses=OWN), OWN_MAILBOX),
		(AutoSendFacts("MAILER-DAEMON@customer.test"), NOREPLY),
		(AutoSendFacts("postmaster@customer.test"), NOREPLY),
		(AutoSendFacts("noreply@shop.test"), NOREPLY),
		(AutoSendFacts("no-reply@shop.test"), NOREPLY),
		(AutoSendFacts("do-not-reply@shop.test"), NOREPLY),
		(AutoSendFacts("donotreply@shop.test"), NOREPLY),
		(AutoSendFacts("agent@site.test", is_internal=True), INTERNAL_USER),
		(AutoSendFacts("ada@customer.test", bounced_recently=True), BOUNCED),
		(AutoSendFacts("ada@customer.test", sent_last_hour=9, sent_last_day=9), None),
		(AutoSendFacts("ada@customer.test", sent_last_hour=10, sent_last_day=10), HOURLY_LIMIT),
		(AutoSendFacts("ada@customer.test", sent_last_hour=0, sent_last_day=39), None),
		(AutoSendFacts("ada@customer.test", sent_last_hour=0, sent_last_day=40), DAILY_LIMIT),
	],
)
def test_autosend_block(facts, expected):
	assert autosend_block(facts) == expected


@pytest.mark.parametrize(
	"address", ["ada@customer.test", "noreplyfan@x.test", "replyno@x.test", "dan@noreply.test"]
)
def test_ordinary_addresses_are_not_noreply(address):
	assert not is_noreply(address)


def test_limits_are_settings():
	facts = AutoSendFacts("ada@customer.test", sent_last_hour=2, sent_last_day=2)
	assert autosend_block(facts, Limits(per_hour=2, per_day=40)) == HOURLY_LIMIT
	assert autosend_block(facts, Limits(per_hour=10, per_day=2)) == DAILY_LIMIT
	assert autosend_block(facts, Limits(per_hour=3, per_day=3)) is None


def test_a_burst_from_one_address_makes_at_most_the_cap():
	"""50 mails in an hour: the count the shell reads grows only with what was sent."""
	sent, held = 0, []
	for _ in range(50):
		reason = autosend_block(AutoSendFacts("ooo@customer.test", sent_last_hour=sent, sent_last_day=sent))
		if reason:
			held.append(reason)
		else:
			sent += 1
	assert sent == 10 and held == [HOURLY_LIMIT] * 40


@pytest.mark.parametrize(
	"outcome, route_acknowledges, expected",
	[
		(Outcome.NEW_CASE, True, True),
		(Outcome.NEW_CASE, False, False),
		(Outcome.ATTACH, True, False),
		(Outcome.ATTACH_SILENTLY, True, False),
		(Outcome.REOPEN, True, False),
		(Outcome.CLONE, True, False),
		(Outcome.UNPROCESSED, True, False),
	],
)
def test_only_a_new_case_on_an_acknowledging_route_is_acknowledged(outcome, route_acknowledges, expected):
	assert should_acknowledge(outcome, route_acknowledges) is expected


def test_failed_recipients_from_headers_and_delivery_status():
	blocks = [
		{"final-recipient": "rfc822; Ada@Customer.test", "action": "failed", "status": "5.1.1"},
		{"final-recipient": "rfc822;bob@customer.test", "action": "delayed", "status": "4.4.1"},
		{"final-recipient": "rfc822;carl@customer.test", "action": "failed", "status": "4.2.2"},
		{"original-recipient": "rfc822;dora@customer.test", "action": "failed"},
	]
	headers = {"x-failed-recipients": "eve@customer.test, ada@customer.test"}
	assert failed_recipients(headers, blocks) == [
		"eve@customer.test",
		"ada@customer.test",
		"dora@customer.test",
	]
	assert failed_recipients({}) == []
