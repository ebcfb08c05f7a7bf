"""Case Threads Settings and the site secret, read once per request."""

import hashlib

import frappe
from frappe.utils.password import get_encryption_key

DOCTYPE = "Case Threads Settings"


def get_settings():
	return frappe.get_cached_doc(DOCTYPE)


def write_missing_defaults():
	"""Store the JSON default of every setting that has no stored value (after install and migrate).

	A Single gets its defaults only while nothing of it is stored: a field added later reads as 0 or
	empty (0 days means "never auto-close", a limit of 0 holds back every acknowledgement) and the next
	save stores that. A save stores every field, so a missing row was never chosen by anyone.
	"""
	stored = set(frappe.db.sql_list("select field from `tabSingles` where doctype = %s", DOCTYPE))
	missing = {
		df.fieldname: df.default
		for df in frappe.get_meta(DOCTYPE).fields
		if df.default not in (None, "") and df.fieldname not in stored
	}
	for field, value in missing.items():
		frappe.db.set_single_value(DOCTYPE, field, value)
	if missing:
		frappe.clear_document_cache(DOCTYPE, DOCTYPE)


def tag_format():
	return get_settings().subject_tag_format or "[#{token}]"


def token_in_subject():
	return get_settings().token_placement in ("Subject", "Subject and Header")


def token_in_header():
	return get_settings().token_placement in ("Header", "Subject and Header")


def site_secret() -> bytes:
	"""Key for signing thread tokens in Message-IDs, derived from the site's own encryption key."""
	return hashlib.sha256(b"case_threads/message-id:" + get_encryption_key().encode()).digest()
