"""Subject normalisation: reply/forward prefixes of any client and language, list tags."""

import re
from collections.abc import Callable

# Whole-word prefixes only ("Trouble:" is not "TR:"), optionally counted: Re[2]:, Re(3):, Re^2:.
PREFIXES = (
	"re|aw|sv|vs|antw|antwort|odp|ynt|vá|va|rif|r|ref|réf|res|resp|rv|tr|wg|fw|fwd|i|enc|doorst|"
	"vb|vl|vs|ts|pd|sv|απ|σχετ|ответ|отв|пересл|回复|答复|回覆|转发|轉寄|转寄|fwd"
)
PREFIX_RE = re.compile(
	rf"^\s*(?:{PREFIXES})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*",
	re.IGNORECASE,
)
TAG_RE = re.compile(r"^\s*\[([^\[\]]*)\]\s*")
WS_RE = re.compile(r"\s+")


def is_our_tag(inner: str) -> bool:
	"""Our own thread tag looks like [#TOKEN]; any other bracketed tag is a list's or a tracker's."""
	return inner.startswith("#")


def normalize_subject(subject: str, is_own_tag: Callable[[str], bool] = is_our_tag) -> str:
	"""The subject without leading reply/forward prefixes and foreign list tags, spaces collapsed."""
	text = WS_RE.sub(" ", subject or "").strip()
	while True:
		stripped = PREFIX_RE.sub("", text, count=1)
		tag = TAG_RE.match(stripped)
		if tag and not is_own_tag(tag.group(1)):
			stripped = stripped[tag.end() :]
		if stripped == text:
			return text.strip()
		text = stripped


def subjects_match(a: str, b: str) -> bool:
	return normalize_subject(a).casefold() == normalize_subject(b).casefold()
