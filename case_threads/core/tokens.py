"""Thread tokens (F4): unguessable, carried in a subject tag and/or signed inside a Message-ID."""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from functools import lru_cache

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TOKEN_LENGTH = 12
DEFAULT_TAG_FORMAT = "[#{token}]"
SIGNATURE_LENGTH = 20
TOKEN_CHARS = "[A-Z0-9]{12,32}"
SIGNED_ID_RE = re.compile(
	rf"^<?ct\.({TOKEN_CHARS})\.([0-9a-f]{{4,32}})\.([0-9a-f]{{{SIGNATURE_LENGTH}}})@[^>]+>?$"
)


def new_token(length: int = TOKEN_LENGTH) -> str:
	return "".join(secrets.choice(ALPHABET) for _ in range(length))


def subject_tag(token: str, fmt: str = DEFAULT_TAG_FORMAT) -> str:
	return fmt.replace("{token}", token)


@lru_cache(maxsize=16)
def _tag_regex(fmt: str) -> re.Pattern:
	before, _, after = fmt.partition("{token}")
	return re.compile(re.escape(before) + f"({TOKEN_CHARS})" + re.escape(after))


def find_subject_token(subject: str, fmt: str = DEFAULT_TAG_FORMAT) -> str | None:
	"""The last thread tag in a subject (a forwarded subject may quote an older one first)."""
	found = _tag_regex(fmt).findall(subject or "")
	return found[-1] if found else None


def add_subject_tag(subject: str, token: str, fmt: str = DEFAULT_TAG_FORMAT) -> str:
	if find_subject_token(subject, fmt) == token:
		return subject
	return f"{subject} {subject_tag(token, fmt)}".strip()


def remove_subject_tag(subject: str, fmt: str = DEFAULT_TAG_FORMAT) -> str:
	return re.sub(r"\s+", " ", _tag_regex(fmt).sub("", subject or "")).strip()


def _signature(token: str, nonce: str, secret: bytes) -> str:
	return hmac.new(secret, f"{token}.{nonce}".encode(), hashlib.sha256).hexdigest()[:SIGNATURE_LENGTH]


def make_message_id(token: str, secret: bytes, domain: str, nonce: str | None = None) -> str:
	"""`ct.TOKEN.NONCE.SIG@domain` (no brackets): replies bring it back in In-Reply-To/References."""
	nonce = nonce or secrets.token_hex(6)
	return f"ct.{token}.{nonce}.{_signature(token, nonce, secret)}@{domain}"


def token_from_message_id(message_id: str, secret: bytes) -> str | None:
	"""The token of a Message-ID this site signed; None for anything forged, altered or foreign."""
	match = SIGNED_ID_RE.match((message_id or "").strip())
	if not match:
		return None
	token, nonce, signature = match.groups()
	return token if hmac.compare_digest(signature, _signature(token, nonce, secret)) else None


def tokens_from_headers(ids: Iterable[str], secret: bytes) -> list[str]:
	tokens = (token_from_message_id(i, secret) for i in ids if i.startswith(("ct.", "<ct.")))
	return list(dict.fromkeys(t for t in tokens if t))
