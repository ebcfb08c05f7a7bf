"""F24 merge/split decisions (case_threads.core.merge): where a merge lands, refusals, what a split moves."""

import pytest

from case_threads.core.merge import MergeRefused, emails_from, follow_chain, merge_target, notes_from


def forwards(**links):
	return lambda name: links.get(name)


@pytest.mark.parametrize(
	"source, target, links, expected",
	[
		("B", "A", {}, "A"),
		# A was merged into C: B goes to C.
		("B", "A", {"A": "C"}, "C"),
		# A merged into C, C cloned to D: the whole chain.
		("B", "A", {"A": "C", "C": "D"}, "D"),
		# Unrelated chains elsewhere do not matter.
		("B", "A", {"X": "B"}, "A"),
	],
)
def test_merge_follows_the_chain(source, target, links, expected):
	assert merge_target(source, target, forwards(**links)) == expected


@pytest.mark.parametrize(
	"source, target, links, reason",
	[
		("A", "A", {}, MergeRefused.SAME),
		# B was merged already.
		("B", "A", {"B": "C"}, MergeRefused.ALREADY_MERGED),
		# A was merged into B: merging B into A would be a loop.
		("B", "A", {"A": "B"}, MergeRefused.LOOP),
		# A → C → B: still back to the source.
		("B", "A", {"A": "C", "C": "B"}, MergeRefused.LOOP),
		# A damaged chain that circles without the source.
		("B", "A", {"A": "C", "C": "A"}, MergeRefused.LOOP),
	],
)
def test_merge_refusals(source, target, links, reason):
	with pytest.raises(MergeRefused) as refused:
		merge_target(source, target, forwards(**links))
	assert refused.value.reason == reason


def test_follow_chain_stops_on_repeat_and_hop_limit():
	assert follow_chain("A", forwards(A="B", B="A")) == ["A", "B"]
	long_chain = {f"c{i}": f"c{i + 1}" for i in range(100)}
	assert len(follow_chain("c0", long_chain.get, max_hops=10)) == 11


EMAILS = [("m3", (3, 0)), ("m1", (1, 0)), ("m2", (2, 0)), ("m2b", (2, 1))]


@pytest.mark.parametrize(
	"first, moved",
	[
		("m2", ["m2", "m2b", "m3"]),
		("m2b", ["m2b", "m3"]),
		("m3", ["m3"]),
		# From the first email nothing would stay: nothing moves.
		("m1", []),
	],
)
def test_split_moves_exactly_the_later_emails(first, moved):
	assert emails_from(EMAILS, first) == moved


def test_split_from_an_email_not_on_the_case():
	with pytest.raises(ValueError):
		emails_from(EMAILS, "elsewhere")


def test_split_notes_from_the_cutoff():
	assert notes_from([("n1", 1), ("n2", 2), ("n3", 3)], 2) == ["n2", "n3"]
