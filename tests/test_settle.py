"""Issue 18: which pulled mails may leave the server, the mail key, and when to give up."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from case_threads.core.settle import (
	DONE,
	GIVEN_UP,
	MAX_ATTEMPTS,
	PENDING,
	Pulled,
	Step,
	message_key,
	next_step,
	to_forget,
)


@pytest.mark.parametrize(
	"raw, key",
	[
		(b"From: a@x\r\nMessage-ID: <abc@x.test>\r\n\r\nbody", "mid:abc@x.test"),
		(b"message-id:   <abc@x.test>  \n\nbody", "mid:abc@x.test"),
		(b"Message-Id:\n <folded@x.test>\nSubject: s\n\nbody", "mid:folded@x.test"),
		(b"Message-ID: bare-id@x.test\n\nbody", "mid:bare-id@x.test"),
		("Message-ID: <text@x.test>\n\nbody", "mid:text@x.test"),
		# Only the header block counts: a quoted Message-ID in the body is not this mail's.
		(
			b"From: a@x\n\nMessage-ID: <quoted@x.test>\n",
			"sha256:" + hashlib.sha256(b"From: a@x\n\nMessage-ID: <quoted@x.test>\n").hexdigest(),
		),
		(
			b"From: a@x\nMessage-ID:\n\nbody",
			"sha256:" + hashlib.sha256(b"From: a@x\nMessage-ID:\n\nbody").hexdigest(),
		),
		(
			b"From: a@x\nX-Message-ID: <not@x>\n\nbody",
			"sha256:" + hashlib.sha256(b"From: a@x\nX-Message-ID: <not@x>\n\nbody").hexdigest(),
		),
	],
)
def test_message_key(raw, key):
	assert message_key(raw) == key


@given(st.binary(max_size=400))
def test_mail_without_message_id_has_a_stable_key_of_its_bytes(body):
	raw = b"From: someone@x.test\r\nSubject: no id\r\n\r\n" + body
	assert message_key(raw) == message_key(bytes(raw))
	assert message_key(raw) == "sha256:" + hashlib.sha256(raw).hexdigest()
	assert message_key(raw + b"!") != message_key(raw)


@pytest.mark.parametrize(
	"status, attempts, step",
	[
		(PENDING, 1, Step.PROCESS),
		(PENDING, MAX_ATTEMPTS, Step.PROCESS),
		(PENDING, MAX_ATTEMPTS + 1, Step.GIVE_UP),
		(PENDING, 50, Step.GIVE_UP),
		(DONE, 1, Step.SKIP),
		(DONE, MAX_ATTEMPTS + 5, Step.SKIP),
		(GIVEN_UP, MAX_ATTEMPTS + 1, Step.SKIP),
	],
)
def test_next_step(status, attempts, step):
	assert next_step(status, attempts) is step


def test_limit_can_be_passed():
	assert next_step(PENDING, 2, limit=1) is Step.GIVE_UP


def P(ref, key, folder='"INBOX"', forget=True):
	return Pulled(folder, ref, key, forget)


def test_only_settled_mails_are_forgotten():
	pulled = [P("1", "a"), P("2", "b"), P("3", "c"), P("7", "d", folder='"Support"')]
	assert to_forget(pulled, {"a", "c", "d"}) == {'"INBOX"': ["1", "3"], '"Support"': ["7"]}


def test_nothing_settled_nothing_forgotten():
	assert to_forget([P("1", "a"), P("2", "b")], set()) == {}


def test_all_sync_marks_nothing():
	assert to_forget([P("1", "a", forget=False)], {"a"}) == {}


def test_pop_numbers_under_no_folder_and_same_key_twice():
	pulled = [P("1", "a", folder=None), P("2", "a", folder=None), P("3", "b", folder=None)]
	assert to_forget(pulled, {"a"}) == {None: ["1", "2"]}


@given(
	st.lists(st.tuples(st.integers(1, 50), st.sampled_from("abcdef")), max_size=30),
	st.sets(st.sampled_from("abcdef")),
)
def test_never_forgets_an_unsettled_mail(mails, settled):
	pulled = [P(str(uid), key) for uid, key in mails]
	forgotten = set(to_forget(pulled, settled).get('"INBOX"', []))
	by_ref = {}
	for mail in pulled:
		by_ref.setdefault(mail.ref, set()).add(mail.key)
	for ref in forgotten:
		assert by_ref[ref] & settled
	for mail in pulled:
		if mail.key in settled:
			assert mail.ref in forgotten
