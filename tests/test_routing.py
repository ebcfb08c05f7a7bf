import pytest

from case_threads.core import NO_ROUTE, ONLY_BCC, Message, Route, match_route, matches_per_address

SUPPORT = Route("support", "support@acme.test")
WILDCARD = Route("acme", "*@acme.test")
SALES_EU = Route("sales-eu", "sales+eu@acme.test", email_account="Sales")
VIP = Route("vip", "support@acme.test", sender_pattern="*@vip.test")
URGENT = Route("urgent", "*@acme.test", subject_pattern="urgent")
REGEX = Route("invoice", "*@acme.test", subject_pattern=r"re:^inv-\d+")


def msg(to=(), cc=(), delivered_to=(), sender="ada@customer.test", subject="Hello"):
	return Message(
		to=tuple(to), cc=tuple(cc), delivered_to=tuple(delivered_to), from_addr=sender, subject=subject
	)


@pytest.mark.parametrize(
	("routes", "message", "account", "route", "address", "reason"),
	[
		([SUPPORT], msg(to=["support@acme.test"]), None, "support", "support@acme.test", None),
		([SUPPORT], msg(to=["SUPPORT@ACME.TEST".lower()]), None, "support", "support@acme.test", None),
		([SUPPORT, WILDCARD], msg(to=["info@acme.test"]), None, "acme", "info@acme.test", None),
		# The first route in order wins, even when a later one matches an earlier address.
		([WILDCARD, SUPPORT], msg(to=["support@acme.test"]), None, "acme", "support@acme.test", None),
		(
			[SUPPORT, WILDCARD],
			msg(to=["x@other.test"], cc=["info@acme.test"]),
			None,
			"acme",
			"info@acme.test",
			None,
		),
		([SALES_EU], msg(to=["sales+eu@acme.test"]), "Support", None, None, NO_ROUTE),
		([SALES_EU], msg(to=["sales+eu@acme.test"]), "Sales", "sales-eu", "sales+eu@acme.test", None),
		(
			[VIP, SUPPORT],
			msg(to=["support@acme.test"], sender="boss@vip.test"),
			None,
			"vip",
			"support@acme.test",
			None,
		),
		([VIP, SUPPORT], msg(to=["support@acme.test"]), None, "support", "support@acme.test", None),
		([URGENT], msg(to=["a@acme.test"], subject="URGENT: down"), None, "urgent", "a@acme.test", None),
		([URGENT], msg(to=["a@acme.test"], subject="calm"), None, None, None, NO_ROUTE),
		([REGEX], msg(to=["a@acme.test"], subject="INV-42 overdue"), None, "invoice", "a@acme.test", None),
		([SUPPORT], msg(to=["x@other.test"]), None, None, None, NO_ROUTE),
		([SUPPORT], msg(), None, None, None, ONLY_BCC),
		([SUPPORT], msg(to=["x@other.test"], delivered_to=["support@acme.test"]), None, None, None, ONLY_BCC),
		([SUPPORT], msg(to=["help@acme.test"], delivered_to=["help@acme.test"]), None, None, None, NO_ROUTE),
		([], msg(to=["support@acme.test"]), None, None, None, NO_ROUTE),
	],
)
def test_match_route(routes, message, account, route, address, reason):
	match = match_route(message, routes, account)
	assert (match.route.name if match.route else None, match.address, match.reason) == (
		route,
		address,
		reason,
	)


def test_matches_per_address():
	result = matches_per_address(msg(to=["support@acme.test", "x@other.test"]), [SUPPORT, WILDCARD], None)
	assert {a: r.name if r else None for a, r in result.items()} == {
		"support@acme.test": "support",
		"x@other.test": None,
	}
