"""Hard mail: which attachments of an inbound email are stored, under which name, and which are left
out (over a size limit). The shell stores them, keeps the raw message when one is renamed or left
out, and writes the note; a store that fails anyway is left out there too."""

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

MB = 1024 * 1024
# File.file_name is a Data field (140); Frappe may add a 6-character suffix to a taken name.
MAX_NAME = 100
# What Frappe refuses or changes in a File name (its HTML sanitizer rewrites anything with < or >,
# '/' and '\' are path separators, '%' is unquoted back in File.file_url, '#' and '?' cut a URL),
# plus what Windows refuses and control characters.
UNSAFE_RE = re.compile(r'[<>:"/\\|?*%#\x00-\x1f\x7f]+')
SPACES_RE = re.compile(r"\s+")


class LeftOut(str, Enum):
	TOO_LARGE = "too_large"  # the attachment is over max_attachment_mb
	MAIL_TOO_LARGE = "mail_too_large"  # the whole email is over max_mail_mb


@dataclass(frozen=True)
class Limits:
	"""In bytes; 0 means no limit of the app's own."""

	max_attachment: int = 10 * MB
	max_mail: int = 25 * MB

	@classmethod
	def from_mb(cls, max_attachment_mb, max_mail_mb):
		return cls(int(float(max_attachment_mb or 0) * MB), int(float(max_mail_mb or 0) * MB))


@dataclass(frozen=True)
class AttachmentPlan:
	original: str
	size: int
	store_as: str | None = None  # None: left out
	left_out: LeftOut | None = None

	@property
	def renamed(self) -> bool:
		return self.store_as is not None and self.store_as != self.original


@dataclass(frozen=True)
class MailPlan:
	mail_too_large: bool
	attachments: tuple[AttachmentPlan, ...]

	@property
	def keep_raw(self) -> bool:
		"""Something of the original will not be on the email as it came: keep the message itself."""
		return self.mail_too_large or any(a.renamed or a.left_out for a in self.attachments)


def safe_file_name(name: str, fallback: str) -> str:
	"""A name Frappe stores as it is: unsafe characters become '_', no leading dots, at most MAX_NAME
	characters with the extension kept; `fallback` when nothing is left."""
	name = unicodedata.normalize("NFC", str(name or ""))
	name = SPACES_RE.sub(" ", UNSAFE_RE.sub("_", name)).strip(" .")
	if not name.replace("_", "").strip(" ."):
		return fallback
	if len(name) > MAX_NAME:
		stem, ext = os.path.splitext(name)
		ext = ext if len(ext) <= 16 else ""
		name = stem[: MAX_NAME - len(ext)].rstrip(" .") + ext
	return name


def plan_attachments(mail_size: int, attachments: Sequence[tuple[str, int, str]], limits: Limits) -> MailPlan:
	"""`attachments`: (name, size in bytes, fallback name) of each, in the email's order."""
	mail_too_large = bool(limits.max_mail and mail_size > limits.max_mail)
	plans = []
	for name, size, fallback in attachments:
		if mail_too_large:
			plans.append(AttachmentPlan(name, size, left_out=LeftOut.MAIL_TOO_LARGE))
		elif limits.max_attachment and size > limits.max_attachment:
			plans.append(AttachmentPlan(name, size, left_out=LeftOut.TOO_LARGE))
		else:
			plans.append(AttachmentPlan(name, size, store_as=safe_file_name(name, fallback)))
	return MailPlan(mail_too_large, tuple(plans))
