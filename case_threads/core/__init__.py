"""The decision core: plain functions on plain data, no Frappe import.

parse_message → classify → decide(message, candidates, routes) → Action; the Frappe shell in
case_threads.mail gathers the candidates and carries the Action out.
"""

from case_threads.core.classify import MessageClass, classify
from case_threads.core.decide import Action, Candidate, CaseRef, Evidence, decide, find_case_numbers
from case_threads.core.lifecycle import CaseStatus, Outcome, lifecycle_outcome
from case_threads.core.parsing import Message, addresses, decode_text, message_ids, parse_message
from case_threads.core.routing import NO_ROUTE, ONLY_BCC, Route, RouteMatch, match_route, matches_per_address
from case_threads.core.subjects import normalize_subject, subjects_match
from case_threads.core.tokens import (
	ALPHABET,
	DEFAULT_TAG_FORMAT,
	TOKEN_LENGTH,
	add_subject_tag,
	find_subject_token,
	make_message_id,
	new_token,
	remove_subject_tag,
	subject_tag,
	token_from_message_id,
	tokens_from_headers,
)
