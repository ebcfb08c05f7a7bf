import pytest
from hypothesis import given
from hypothesis import strategies as st

from case_threads.core import (
	ALPHABET,
	add_subject_tag,
	find_subject_token,
	make_message_id,
	new_token,
	remove_subject_tag,
	token_from_message_id,
	tokens_from_headers,
)

SECRET = b"site secret"
TOKENS = st.text(alphabet=ALPHABET, min_size=12, max_size=20)


def test_new_tokens_are_12_alphanumerics_and_differ():
	tokens = {new_token() for _ in range(1000)}
	assert len(tokens) == 1000
	assert all(len(t) == 12 and set(t) <= set(ALPHABET) for t in tokens)


@pytest.mark.parametrize(
	("subject", "fmt", "expected"),
	[
		("Re: Broken [#ABCDEFGHIJKL]", "[#{token}]", "ABCDEFGHIJKL"),
		("Fwd: [#AAAAAAAAAAAA] old, [#BBBBBBBBBBBB] new", "[#{token}]", "BBBBBBBBBBBB"),
		("Broken [#abcdefghijkl]", "[#{token}]", None),
		("Broken [#SHORT]", "[#{token}]", None),
		("Broken {Ticket:ABCDEFGHIJKL}", "{Ticket:{token}}", "ABCDEFGHIJKL"),
		("", "[#{token}]", None),
	],
)
def test_find_subject_token(subject, fmt, expected):
	assert find_subject_token(subject, fmt) == expected


def test_add_subject_tag_is_idempotent_and_removable():
	tagged = add_subject_tag("Broken", "ABCDEFGHIJKL")
	assert tagged == "Broken [#ABCDEFGHIJKL]"
	assert add_subject_tag(tagged, "ABCDEFGHIJKL") == tagged
	assert remove_subject_tag(f"Re: {tagged}") == "Re: Broken"


@given(TOKENS)
def test_message_id_round_trip(token):
	message_id = make_message_id(token, SECRET, "site.test")
	assert token_from_message_id(message_id, SECRET) == token
	assert token_from_message_id(f"<{message_id}>", SECRET) == token
	assert token_from_message_id(message_id, b"another secret") is None


@given(TOKENS, st.data())
def test_any_single_change_breaks_the_signature(token, data):
	message_id = make_message_id(token, SECRET, "site.test")
	local = message_id.split("@")[0]
	position = data.draw(st.integers(min_value=3, max_value=len(local) - 1))
	if local[position] == ".":
		return
	replacement = data.draw(
		st.sampled_from("0123456789abcdefABCDEFXYZ").filter(lambda c: c != local[position])
	)
	altered = local[:position] + replacement + local[position + 1 :] + message_id[len(local) :]
	assert token_from_message_id(altered, SECRET) is None


@pytest.mark.parametrize(
	"value", ["", "plain@x.test", "ct.ABC@x", "ct.ABCDEFGHIJKL.00.00@x", "<<>>", "ct." * 1000]
)
def test_foreign_ids_decode_to_none(value):
	assert token_from_message_id(value, SECRET) is None


def test_tokens_from_headers_keeps_valid_ones_in_order():
	a = make_message_id("AAAAAAAAAAAA", SECRET, "s")
	b = make_message_id("BBBBBBBBBBBB", SECRET, "s")
	forged = make_message_id("CCCCCCCCCCCC", b"x", "s")
	assert tokens_from_headers([b, "x@y", forged, a, b], SECRET) == ["BBBBBBBBBBBB", "AAAAAAAAAAAA"]
