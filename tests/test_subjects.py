import pytest
from hypothesis import given
from hypothesis import strategies as st

from case_threads.core import normalize_subject, subjects_match

BASE = "Printer on floor 3 is broken"


@pytest.mark.parametrize(
	"subject",
	[
		f"Re: {BASE}",
		f"RE: {BASE}",
		f"Fwd: {BASE}",
		f"FW: {BASE}",
		f"AW: {BASE}",
		f"WG: {BASE}",
		f"SV: {BASE}",
		f"VS: {BASE}",
		f"RV: {BASE}",
		f"TR: {BASE}",
		f"Antw: {BASE}",
		f"Odp: {BASE}",
		f"Ynt: {BASE}",
		f"回复：{BASE}",
		f"答复: {BASE}",
		f"Re[2]: {BASE}",
		f"Re(3): {BASE}",
		f"Re^2: {BASE}",
		f"Re : {BASE}",
		f"Re: AW: RV: TR: Fwd: {BASE}",
		f"re:re:RE: {BASE}",
		f"I: {BASE}",
		f"[python-dev] Re: {BASE}",
		f"Re: [Project - Bug #12] {BASE}",
		f"  Re:   {BASE}  ",
	],
)
def test_prefixes_and_list_tags_are_stripped(subject):
	assert normalize_subject(subject) == BASE


@pytest.mark.parametrize(
	"subject",
	["Rebooting the server", "Trouble: printer", "Ireland office", "Reminder: meeting", "Fwdx: not a prefix"],
)
def test_words_that_only_start_like_prefixes_stay(subject):
	assert normalize_subject(subject) == subject


def test_own_tag_stays():
	assert normalize_subject("Re: [#ABCDEFGHIJKL] Broken") == "[#ABCDEFGHIJKL] Broken"


def test_subjects_match_ignores_prefixes_and_case():
	assert subjects_match(f"AW: {BASE.upper()}", f"Re: {BASE}")
	assert not subjects_match("Printer", "Scanner")


PREFIX = st.sampled_from(["Re: ", "RE: ", "Fwd: ", "AW: ", "SV: ", "回复：", "Re[4]: ", "TR: ", "Odp: "])
TEXT = st.text(min_size=1, max_size=60).filter(lambda s: normalize_subject(s) == s.strip() and s.strip())


@given(st.text(max_size=200))
def test_normalize_is_idempotent_and_never_raises(subject):
	once = normalize_subject(subject)
	assert normalize_subject(once) == once


@given(st.lists(PREFIX, max_size=6), TEXT)
def test_any_prefix_combination_normalises_to_the_base(prefixes, base):
	assert normalize_subject("".join(prefixes) + base) == normalize_subject(base)
