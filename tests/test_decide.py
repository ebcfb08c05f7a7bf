import pytest

from case_threads.core import (
	NO_ROUTE,
	ONLY_BCC,
	Candidate,
	CaseRef,
	Evidence,
	Message,
	MessageClass,
	Outcome,
	Route,
	decide,
	find_case_numbers,
	lifecycle_outcome,
)

HUMAN, AUTO, BOUNCE, BULK = (
	MessageClass.HUMAN,
	MessageClass.AUTO_REPLY,
	MessageClass.BOUNCE,
	MessageClass.BULK,
)
A, R, S, X = Outcome.ATTACH, Outcome.REOPEN, Outcome.ATTACH_SILENTLY, Outcome.CLONE


# The lifecycle table of PRODUCT.md F7/F8, row by row.
@pytest.mark.parametrize(
	("status", "message_class", "internal", "outcome"),
	[
		("Open", HUMAN, False, A),
		("Replied", HUMAN, False, A),
		("Resolved", HUMAN, False, R),
		("Closed", HUMAN, False, X),
		*[
			(status, cls, False, S)
			for status in ("Open", "Replied", "Resolved", "Closed")
			for cls in (AUTO, BOUNCE, BULK)
		],
		*[(status, HUMAN, True, S) for status in ("Open", "Replied", "Resolved", "Closed")],
	],
)
def test_lifecycle_table(status, message_class, internal, outcome):
	assert lifecycle_outcome(status, message_class, internal) is outcome


def test_unknown_status_is_an_error():
	with pytest.raises(ValueError):
		lifecycle_outcome("Archived", HUMAN, False)


ROUTE = Route("support", "support@acme.test", defaults={"priority": "High"})
NEW = Message(to=("support@acme.test",), from_addr="ada@customer.test", subject="Hi")


def cand(evidence, name, status="Open", took_part=False):
	return Candidate(evidence, CaseRef(name, status), took_part)


@pytest.mark.parametrize(
	("candidates", "outcome", "case", "evidence"),
	[
		([], Outcome.NEW_CASE, None, None),
		([cand(Evidence.SUBJECT_TOKEN, "C2"), cand(Evidence.MESSAGE_ID, "C1")], A, "C1", Evidence.MESSAGE_ID),
		(
			[cand(Evidence.CASE_NUMBER, "C3"), cand(Evidence.HEADER_TOKEN, "C4", "Resolved")],
			R,
			"C4",
			Evidence.HEADER_TOKEN,
		),
		# A case number from someone who never took part in the case proves nothing.
		([cand(Evidence.CASE_NUMBER, "C5")], Outcome.NEW_CASE, None, None),
		([cand(Evidence.CASE_NUMBER, "C5", "Closed", took_part=True)], X, "C5", Evidence.CASE_NUMBER),
	],
)
def test_decide_picks_strongest_trusted_candidate(candidates, outcome, case, evidence):
	action = decide(
		NEW, candidates, [ROUTE], email_account=None, sender_is_internal=False, message_class=HUMAN
	)
	assert (action.outcome, action.case, action.evidence) == (outcome, case, evidence)
	if outcome is Outcome.NEW_CASE:
		assert action.route is ROUTE


@pytest.mark.parametrize(
	("message", "message_class", "reason"),
	[
		(NEW, AUTO, "auto_reply"),
		(NEW, BOUNCE, "bounce"),
		(NEW, BULK, "bulk"),
		(Message(to=("info@other.test",)), HUMAN, NO_ROUTE),
		(Message(), HUMAN, ONLY_BCC),
	],
)
def test_unmatched_mail_waits_with_its_reason(message, message_class, reason):
	action = decide(
		message, [], [ROUTE], email_account=None, sender_is_internal=False, message_class=message_class
	)
	assert (action.outcome, action.reason) == (Outcome.UNPROCESSED, reason)


def test_internal_sender_attaches_silently_to_closed_case():
	action = decide(
		NEW, [cand(Evidence.MESSAGE_ID, "C1", "Closed")], [], email_account=None, sender_is_internal=True
	)
	assert action.outcome is S


@pytest.mark.parametrize(
	("subject", "numbers"),
	[("About CASE-00042 and case-00042", ["CASE-00042"]), ("No number CASE-1", []), ("x", [])],
)
def test_find_case_numbers(subject, numbers):
	assert find_case_numbers(subject) == numbers
