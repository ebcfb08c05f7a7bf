from datetime import timezone

import pytest

from case_threads.core import addresses, message_ids, parse_message

RAW = b"""From: =?utf-8?q?Ad=C3=A1?= Lovelace <ADA@Example.COM>
To: Support <support@acme.test>, sales@acme.test
Cc: boss@customer.test
Delivered-To: support@acme.test
X-Original-To: help@acme.test
Reply-To: replies@customer.test
Subject: =?utf-8?q?Re=3A_Probl=C3=A8me?= =?iso-8859-1?q?_d=27impression?=
 =?utf-8?b?IFsjQUJDREVGR0hJSktMXQ==?=
Message-ID: <m1@customer.test>
In-Reply-To: <a@acme.test>
References: <r1@x.test>
 <r2@x.test> <a@acme.test>
Date: Tue, 11 Jun 2024 18:02:02 +0900
Auto-Submitted: auto-replied
Precedence: bulk

body
"""


def test_parses_every_field():
	m = parse_message(RAW)
	assert m.message_id == "m1@customer.test"
	assert m.in_reply_to == ("a@acme.test",)
	assert m.references == ("r1@x.test", "r2@x.test", "a@acme.test")
	assert (m.from_name, m.from_addr) == ("Adá Lovelace", "ada@example.com")
	assert m.reply_to == "replies@customer.test"
	assert m.to == ("support@acme.test", "sales@acme.test")
	assert m.cc == ("boss@customer.test",)
	assert m.delivered_to == ("support@acme.test", "help@acme.test")
	assert m.subject == "Re: Problème d'impression [#ABCDEFGHIJKL]"
	assert m.date.utcoffset().total_seconds() == 9 * 3600
	assert m.headers["auto-submitted"] == "auto-replied"
	assert m.headers["precedence"] == "bulk"


@pytest.mark.parametrize(
	"raw",
	[
		b"",
		b"garbage without headers",
		b"From nobody Mon Jan  1 00:00:00 2024\nSubject: mbox\n\nx",
		b"Subject: =?unknown-charset?q?abc?=\n\nx",
		b"Subject: =?utf-8?b?!!!notbase64?=\nFrom: <<<>>>\nDate: yesterday\n\nx",
		"Subject: unicode str ünïcode\n\nx",
		b"Subject: \xff\xfe bytes\r\nFrom: a@b.test\r\n\r\nx",
	],
)
def test_never_raises(raw):
	parse_message(raw)


def test_mbox_from_line_is_skipped():
	assert parse_message(b"From nobody Mon Jan 1\nSubject: hi\n\nx").subject == "hi"


def test_long_reference_chain_keeps_nearest_ids():
	refs = " ".join(f"<id{i}@x.test>" for i in range(10_000))
	m = parse_message(f"References: {refs}\n\nx".encode())
	assert len(m.references) == 200
	assert m.references[-1] == "id9999@x.test"


@pytest.mark.parametrize(
	("value", "expected"),
	[
		("<a@x> <b@x>", ("a@x", "b@x")),
		("<a@x>,<b@x>\n\t<a@x>", ("a@x", "b@x")),
		("a@x b@x", ("a@x", "b@x")),
		("", ()),
	],
)
def test_message_ids(value, expected):
	assert message_ids(value) == expected


def test_addresses_lowercase_and_dedup():
	assert addresses('"X, Y" <A@B.test>, a@b.test, nobody') == ("a@b.test",)
