"""Spam flagged by the receiving mail server is a message class of its own (issue 20)."""

import pytest

from case_threads.core import (
	Candidate,
	CaseRef,
	Evidence,
	MessageClass,
	Outcome,
	classify,
	decide,
	parse_message,
)
from case_threads.core.lifecycle import lifecycle_outcome

SPAM, HUMAN = MessageClass.SPAM, MessageClass.HUMAN


def mail(headers="", subject="Cheap printers", extra=""):
	return parse_message(
		f"From: x@spam.test\nTo: support@ct.test\nSubject: {subject}\n{headers}\n\nbody\n{extra}".encode()
	)


@pytest.mark.parametrize(
	("headers", "expected"),
	[
		("", HUMAN),
		("X-Spam-Flag: YES", SPAM),
		("X-Spam-Flag: yes", SPAM),
		("X-Spam-Flag: NO", HUMAN),
		("X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_99", SPAM),
		("X-Spam-Status: No, score=-0.1 required=5.0 tests=ALL_TRUSTED", HUMAN),
		# Folded over two lines, as SpamAssassin writes it.
		("X-Spam-Status: Yes, score=9.0 required=5.0\n\ttests=URIBL_BLACK", SPAM),
		("X-Spam: Yes", SPAM),
		("X-Spam: no", HUMAN),
		# "Yesterday" is not a verdict.
		("X-Spam-Status: Yesterday", HUMAN),
		# The server puts its verdict on top; a sender's own "NO" further down does not hide it.
		("X-Spam-Flag: YES\nX-Spam-Flag: NO", SPAM),
		("X-Spam-Flag: NO\nX-Spam-Flag: YES", SPAM),
		("X-Spam-Level: *******", HUMAN),
		# Spam wins over what the mail says it is: a spam "bounce" is spam.
		("X-Spam-Flag: YES\nX-Failed-Recipients: a@b.test", SPAM),
		("X-Spam-Flag: YES\nAuto-Submitted: auto-replied", SPAM),
		("X-Spam-Flag: YES\nPrecedence: bulk", SPAM),
	],
)
def test_classify_spam(headers, expected):
	assert classify(mail(headers)) is expected


def test_spam_header_in_the_body_is_not_a_verdict():
	assert classify(mail(extra="X-Spam-Flag: YES\n")) is HUMAN


def test_new_spam_waits_as_spam_and_opens_no_case():
	action = decide(mail("X-Spam-Flag: YES"), [], [], email_account="Support", sender_is_internal=False)
	assert action.outcome is Outcome.UNPROCESSED
	assert action.reason == "spam"
	assert action.message_class is SPAM


@pytest.mark.parametrize("status", ["Open", "Replied", "Resolved", "Closed"])
def test_spam_on_a_case_attaches_silently(status):
	candidate = Candidate(Evidence.MESSAGE_ID, CaseRef("CASE-00001", status))
	action = decide(
		mail("X-Spam-Flag: YES"), [candidate], [], email_account="Support", sender_is_internal=False
	)
	assert action.outcome is Outcome.ATTACH_SILENTLY
	assert action.case == "CASE-00001"
	assert lifecycle_outcome(status, SPAM, False) is Outcome.ATTACH_SILENTLY
