"""Outbound case mail: References built as RFC 5322 §3.6.4 says (bounded), the sender rule, the
header rewrite that leaves the body alone."""

import email
from email import policy

import pytest

from case_threads.core.outbound import (
	AUTO_HEADERS,
	REFERENCES_HEAD,
	REFERENCES_TAIL,
	choose_sender,
	format_ids,
	set_headers,
	split_ids,
	thread_references,
)


@pytest.mark.parametrize(
	"parent_refs, parent_id, expected",
	[
		(None, "a@x", ["a@x"]),
		("", "<a@x>", ["a@x"]),
		("<r1@x> <r2@x>", "p@x", ["r1@x", "r2@x", "p@x"]),
		("<r1@x>\r\n <r2@x>", "<p@x>", ["r1@x", "r2@x", "p@x"]),
		("<r1@x> <p@x>", "p@x", ["r1@x", "p@x"]),  # each id once
		(["r1@x", "<r2@x>"], "p@x", ["r1@x", "r2@x", "p@x"]),
		("<r1@x>", None, ["r1@x"]),
		("junk r1@x, <r2@x>", "p@x", ["r1@x", "r2@x", "p@x"]),
	],
)
def test_references_are_parent_references_plus_parent_id(parent_refs, parent_id, expected):
	assert thread_references(parent_refs, parent_id) == expected


@pytest.mark.parametrize("length", [0, 1, 5, 20, 21, 22, 50, 500])
def test_references_are_bounded_to_the_root_and_the_nearest_ancestors(length):
	refs = [f"r{i}@x" for i in range(length)]
	out = thread_references(refs, "parent@x")
	full = [*refs, "parent@x"]
	assert len(out) == min(len(full), REFERENCES_HEAD + REFERENCES_TAIL)
	assert out[0] == full[0]  # the root stays
	assert out[-1] == "parent@x"  # the parent is always last
	assert out[-REFERENCES_TAIL:] == full[-REFERENCES_TAIL:][-len(out[-REFERENCES_TAIL:]) :]


def test_format_and_split_round_trip():
	ids = ["a@x", "b@y"]
	assert format_ids(ids) == "<a@x> <b@y>"
	assert split_ids(format_ids(ids)) == ids


ACCOUNTS = {"support@a.test", "sales@b.test"}  # sending accounts other than the default


@pytest.mark.parametrize(
	"requested, case_address, expected",
	[
		(None, "support@a.test", "support@a.test"),  # nobody chose
		("agent@corp.test", "support@a.test", "support@a.test"),  # the user's own address
		("Agent <agent@corp.test>", "support@a.test", "support@a.test"),
		("default@site.test", "support@a.test", "support@a.test"),  # the site's default account
		("sales@b.test", "support@a.test", "sales@b.test"),  # picked explicitly
		("SALES@B.TEST", "support@a.test", "sales@b.test"),
		("support@a.test", "support@a.test", "support@a.test"),
		("agent@corp.test", None, "agent@corp.test"),  # a case without mailbox: Frappe's rule
		(None, None, None),
	],
)
def test_sender_is_the_case_mailbox_unless_another_account_was_picked(requested, case_address, expected):
	requested = requested and requested.split("<")[-1].rstrip(">")
	assert choose_sender(requested, case_address=case_address, explicit_addresses=ACCOUNTS) == expected


RAW = (
	'Content-Type: multipart/mixed; boundary="b"\r\n'
	"MIME-Version: 1.0\r\n"
	"Subject: Re: Printer\r\n"
	"From: Agent <agent@corp.test>\r\n"
	"To: <!--recipient-->\r\n"
	"Reply-To: agent@corp.test\r\n"
	"Message-Id: <m1@site>\r\n"
	"X-Long: one\r\n"
	" two\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"From: this line is body, not a header\r\n"
	"<!--recipient--> <!--unsubscribe_url-->\r\n"
	"--b--\r\n"
)


def test_set_headers_replaces_adds_and_removes_headers_but_not_the_body():
	out = set_headers(
		RAW,
		{
			"From": "Agent <support@a.test>",
			"reply-to": "support@a.test",
			"In-Reply-To": "<c1@customer>",
			"References": format_ids(["r1@x", "c1@customer"]),
			"X-Long": None,
			**AUTO_HEADERS,
		},
	)
	head, _, body = out.partition("\r\n\r\n")
	assert body == RAW.partition("\r\n\r\n")[2]
	msg = email.message_from_string(out, policy=policy.default)
	assert msg["From"] == "Agent <support@a.test>"
	assert msg.get_all("From") == ["Agent <support@a.test>"]
	assert msg.get_all("Reply-To") == ["support@a.test"]
	assert msg["In-Reply-To"] == "<c1@customer>"
	assert split_ids(msg["References"]) == ["r1@x", "c1@customer"]
	assert msg["Auto-Submitted"] == "auto-replied"
	assert msg["X-Auto-Response-Suppress"] == "All"
	assert "X-Long" not in msg and " two" not in head
	assert "\r\nTo: <!--recipient-->\r\n" in head + "\r\n" and msg["Message-Id"] == "<m1@site>"


def test_set_headers_refuses_header_injection_and_folds_long_references():
	out = set_headers(
		RAW,
		{"In-Reply-To": "<a@x>\r\nBcc: victim@x", "References": format_ids([f"id{i}@x" for i in range(40)])},
	)
	msg = email.message_from_string(out, policy=policy.default)
	assert "Bcc" not in msg
	assert all(len(line) < 998 for line in out.split("\r\n"))
	assert len(split_ids(msg["References"])) == 40


def test_set_headers_on_a_unix_newline_message():
	raw = RAW.replace("\r\n", "\n")
	out = set_headers(raw, {"From": "support@a.test"})
	assert "\r" not in out
	assert email.message_from_string(out)["From"] == "support@a.test"
