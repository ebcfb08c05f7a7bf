"""Case Threads Settings and the site secret, read once per request."""

import hashlib

import frappe
from frappe.utils.password import get_encryption_key


def get_settings():
	return frappe.get_cached_doc("Case Threads Settings")


def tag_format():
	return get_settings().subject_tag_format or "[#{token}]"


def token_in_subject():
	return get_settings().token_placement in ("Subject", "Subject and Header")


def token_in_header():
	return get_settings().token_placement in ("Header", "Subject and Header")


def site_secret() -> bytes:
	"""Key for signing thread tokens in Message-IDs, derived from the site's own encryption key."""
	return hashlib.sha256(b"case_threads/message-id:" + get_encryption_key().encode()).digest()
