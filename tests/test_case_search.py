"""Which indexed lookups a typed case search becomes (core.case_search, issue 19)."""

from case_threads.core.case_search import (
	case_number,
	index_words,
	naming_series,
	plan_case_search,
	title_has_words,
)

STATUSES = ("Open", "Replied", "Resolved", "Closed")


def test_every_word_the_index_holds_is_a_required_prefix():
	assert plan_case_search("Refund order 48213").fulltext == "+refund* +order* +48213*"


def test_short_words_and_stopwords_are_left_to_the_like():
	# "of", "the" and "is" are InnoDB stopwords, "tv" is under the minimum token size: required
	# terms of words the index never holds would find nothing.
	assert index_words("status of the TV is bad") == ["status", "bad"]


def test_boolean_operators_typed_by_the_agent_are_not_operators():
	assert plan_case_search('-refund +order "urgent" (vip)').fulltext == "+refund* +order* +urgent* +vip*"
	assert plan_case_search("order* ~x <y >z").fulltext == "+order*"


def test_punctuation_ends_a_word_as_in_innodbs_parser():
	assert index_words("e-mail o'brien bounce") == ["mail", "brien", "bounce"]


def test_text_in_scripts_without_spaces_is_left_to_the_like():
	assert index_words("订单 无法 发货") == []
	assert index_words("注文 48213") == ["48213"]
	assert index_words("Bestellung Rückerstattung") == ["bestellung", "rückerstattung"]


def test_case_numbers_in_any_spelling():
	assert case_number("123", "CASE-", 5) == (("CASE-00123",), None)
	assert case_number("#123", "CASE-", 5) == (("CASE-00123",), None)
	assert case_number("case-00123", "CASE-", 5) == (("CASE-00123",), "CASE-00123")
	assert case_number("CASE-", "CASE-", 5) == ((), "CASE-")
	assert case_number("refund", "CASE-", 5) == ((), None)
	assert case_number("123", "", 0) == ((), None)


def test_naming_series_from_autoname():
	assert naming_series("CASE-.#####") == ("CASE-", 5)
	assert naming_series("naming_series:") == ("", 0)
	assert naming_series("hash") == ("", 0)


def test_plan_for_a_link_search():
	plan = plan_case_search("open", statuses=STATUSES)
	assert plan.phrase == "open"
	assert plan.fulltext == "+open*"
	assert plan.email_prefix == "open"
	assert plan.statuses == ("Open",)


def test_plan_keeps_frappes_phrase_and_collapses_spaces():
	plan = plan_case_search("  refund   48213 ", statuses=STATUSES, by_sender=False)
	assert plan.phrase == "refund 48213"
	assert plan.fulltext == "+refund* +48213*"
	assert plan.names == ()
	assert plan.email_prefix is None
	assert plan.statuses == ()


def test_a_status_matches_on_any_part_of_its_name():
	assert plan_case_search("solv", statuses=STATUSES).statuses == ("Resolved",)
	assert plan_case_search("re", statuses=STATUSES).statuses == ("Replied", "Resolved")


def test_a_number_is_a_word_and_a_case_number():
	plan = plan_case_search("48213")
	assert plan.fulltext == "+48213*"
	assert plan.names == ("CASE-48213",)


def test_an_address_is_a_sender_prefix_not_a_fulltext_word():
	plan = plan_case_search("anna@example.com")
	assert plan.email_prefix == "anna@example.com"
	assert plan.fulltext == "+anna* +example*"  # "com" is a stopword


def test_only_short_words_and_chinese_have_no_index_words():
	assert plan_case_search("tv").fulltext is None
	assert plan_case_search("订单").fulltext is None


def test_empty_text_is_no_search():
	assert plan_case_search("") is None
	assert plan_case_search("   ") is None


def test_title_has_words_as_the_match_finds_them():
	# The check made on the newest cases before the index is asked: word starts, any order,
	# case and accents aside (as utf8mb4_unicode_ci compares).
	assert title_has_words("Refund for order 48213", ["order", "refund"])
	assert title_has_words("Rückerstattung der Bestellung", ["ruckerst"])
	assert title_has_words("Re: E-Mail bounced", ["mail", "bounce"])
	assert not title_has_words("Invoice is wrong", ["voice"])
	assert not title_has_words("Refund", ["refund", "order"])
	assert title_has_words("anything", [])


def test_plan_words_are_what_the_fulltext_requires():
	plan = plan_case_search("Refund of order 48213")
	assert plan.words == ("refund", "order", "48213")
	assert plan.fulltext == "+refund* +order* +48213*"
