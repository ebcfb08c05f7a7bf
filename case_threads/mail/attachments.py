"""Hard mail: storing an inbound email's attachments never costs the email its case (issue 20).

email_account._PublishesRawMail.save_attachments_in_doc → save_attachments() here, which asks
case_threads.core.attachments.plan_attachments what to store under which name, stores it, keeps the
raw message as a private File on the Communication when something did not arrive as it came, and
writes one note on the timeline of the Case (or the Unprocessed Email) saying which file and why.
"""

from functools import lru_cache

import frappe
from frappe import _
from frappe.core.doctype.file.utils import get_random_filename
from frappe.model.base_document import get_controller
from frappe.utils import escape_html, strip_html

from case_threads.core.attachments import MB, LeftOut, Limits, plan_attachments
from case_threads.settings import get_settings

SAVEPOINT = "case_threads_attachment"
# Frappe's own receive silently skips an attachment it already holds on this email.
ALREADY_THERE = (frappe.FileAlreadyAttachedException, frappe.DuplicateEntryError)
DEFAULT_LIMITS = Limits()


class _MailFileMixin:
	"""A File from an inbound email.

	- `flags.ignore_twin`: do not reuse the stored file with the same content (Frappe reuses it by
	  content hash, and one stored under a name Frappe itself mangled fails every email that carries
	  the same bytes);
	- `flags.raw_message`: the raw message is kept whole: the site's upload limit is for uploads, the
	  email's own limit (max_mail_mb) was applied before.
	"""

	def save_file(self, content=None, decode=False, ignore_existing_file_check=False, overwrite=False):
		ignore = ignore_existing_file_check or bool(self.flags.ignore_twin)
		return super().save_file(content, decode, ignore, overwrite)

	def check_max_file_size(self):
		if self.flags.raw_message:
			return len(self._content or b"")
		return super().check_max_file_size()


@lru_cache(maxsize=4)
def _mail_file_class(base):
	return type("CaseThreadsMailFile", (_MailFileMixin, base), {})


def mail_file(values, **flags):
	# Whatever File class is in use on the site (another app may override it).
	doc = _mail_file_class(get_controller("File"))({"doctype": "File", "is_private": 1, **values})
	doc.flags.update(flags)
	return doc


def limits():
	settings = get_settings()

	def value(field, default):
		# A site migrated before the setting existed has no value yet: the default, not "no limit".
		return default if settings.get(field) is None else settings.get(field)

	return Limits.from_mb(
		value("max_attachment_mb", DEFAULT_LIMITS.max_attachment / MB),
		value("max_mail_mb", DEFAULT_LIMITS.max_mail / MB),
	)


def raw_bytes(raw):
	if isinstance(raw, bytes):
		return raw
	return (raw or "").encode("utf-8", "surrogateescape")


def save_attachments(mail, doc):
	"""Frappe's InboundMail.save_attachments_in_doc, except that an attachment Frappe refuses, or one
	over the limits, is left out with a note instead of failing the email. Returns the saved Files."""
	raw = raw_bytes(mail.raw_message)
	mail_limits = limits()
	plan = plan_attachments(
		len(raw),
		[
			(a["fname"], len(a["fcontent"]), get_random_filename(content_type=a["content_type"]))
			for a in mail.attachments
		],
		mail_limits,
	)
	saved, lines, keep_raw = [], [], plan.keep_raw
	if plan.mail_too_large:
		lines.append(
			_("The email is {0} MB, over the limit of {1} MB for one email: only its text was kept.").format(
				megabytes(len(raw)), megabytes(mail_limits.max_mail)
			)
		)
	for attachment, item in zip(mail.attachments, plan.attachments, strict=True):
		original = escape_html(item.original)
		if item.left_out is LeftOut.TOO_LARGE:
			lines.append(
				_("Attachment {0} ({1} MB) was left out: it is over the limit of {2} MB.").format(
					original, megabytes(item.size), megabytes(mail_limits.max_attachment)
				)
			)
			continue
		if item.left_out is LeftOut.MAIL_TOO_LARGE:
			lines.append(_("Attachment {0} ({1} MB) was left out.").format(original, megabytes(item.size)))
			continue
		values = {
			"file_name": item.store_as,
			"attached_to_doctype": doc.doctype,
			"attached_to_name": doc.name,
			"content": attachment["fcontent"],
		}
		file, first_error, error = store(values)
		if file:
			saved.append(file)
			if attachment["fname"] in mail.cid_map:
				# As Frappe does: inline images (cid:) are replaced by the stored file's URL.
				mail.cid_map[file.name] = mail.cid_map[attachment["fname"]]
			if item.renamed:
				lines.append(
					_("Attachment {0} was stored as {1}: its name was not safe to keep.").format(
						original, escape_html(file.file_name)
					)
				)
			if first_error:
				lines.append(
					_(
						"Attachment {0} was stored as a copy of its own: the stored file with the same content could not be used ({1})."
					).format(original, first_error)
				)
		elif error:
			keep_raw = True
			lines.append(
				_("Attachment {0} was left out: it could not be stored ({1}).").format(original, error)
			)
	if keep_raw:
		lines.append(keep_raw_message(raw, doc))
	if lines:
		write_note(doc, lines)
	return saved


def store(values, **flags):
	"""Insert a File; on failure once more without its stored twin. (file, first error, error)."""
	first_error = None
	for ignore_twin in (False, True):
		messages = len(frappe.local.message_log)
		frappe.db.savepoint(SAVEPOINT)
		file = mail_file(values, ignore_twin=ignore_twin, **flags)
		try:
			file.insert(ignore_permissions=True)
			return file, first_error, None
		except ALREADY_THERE:
			frappe.db.rollback(save_point=SAVEPOINT)
			return None, None, None
		except Exception as e:
			frappe.db.rollback(save_point=SAVEPOINT)
			# frappe.throw also queued its message for whoever runs this (a Retry from the desk).
			frappe.local.message_log = frappe.local.message_log[:messages]
			remove_written(file)
			first_error = first_error or error_text(e)
	return None, None, first_error


def remove_written(file):
	"""The savepoint undid the row, not the bytes Frappe had already written (unless shared)."""
	if not file.flags.new_file:
		return
	try:
		file._delete_file_on_disk()
	except Exception:
		frappe.log_error(title=_("Case Threads could not remove a file left by a failed attachment"))


def keep_raw_message(raw, doc):
	file, _first_error, error = store(
		{
			"file_name": f"email-{doc.name}.eml",
			"attached_to_doctype": doc.doctype,
			"attached_to_name": doc.name,
			"content": raw,
		},
		raw_message=True,
	)
	if file:
		link = f'<a href="{escape_html(file.file_url)}">{escape_html(file.file_name)}</a>'
		return _("The original message is kept as {0}.").format(link)
	frappe.log_error(title=_("Case Threads could not keep the original message"), message=error)
	return _("The original message could not be kept ({0}).").format(error)


def write_note(doc, lines):
	frappe.db.savepoint(SAVEPOINT)
	try:
		_write_note(doc, lines)
	except Exception:
		# The email and its files are what matter; a failed note is logged, not fatal.
		frappe.db.rollback(save_point=SAVEPOINT)
		frappe.log_error(title=_("Case Threads could not write the note about an email's attachments"))


def _write_note(doc, lines):
	reference_doctype, reference_name = note_target(doc)
	items = "".join(f"<li>{line}</li>" for line in lines)
	intro = _("Not all of the email {0} from {1} could be kept as it came:").format(
		escape_html(doc.name), escape_html(doc.sender or "")
	)
	frappe.get_doc(
		{
			"doctype": "Comment",
			"comment_type": "Info",
			"reference_doctype": reference_doctype,
			"reference_name": reference_name,
			"content": f"<p>{intro}</p><ul>{items}</ul>",
		}
	).insert(ignore_permissions=True)


def note_target(communication):
	"""Where a person will see the note: the email's Case (or other document), else the
	Unprocessed Email that holds it, else the email itself."""
	if communication.reference_doctype and communication.reference_name:
		return communication.reference_doctype, communication.reference_name
	if name := frappe.db.get_value("Unprocessed Email", {"communication": communication.name}):
		return "Unprocessed Email", name
	return communication.doctype, communication.name


def error_text(e):
	return escape_html(strip_html(str(e)).strip()[:300] or type(e).__name__)


def megabytes(size):
	return f"{size / MB:.1f}".rstrip("0").rstrip(".")
