# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

import re

import frappe
from frappe import _
from frappe.model.document import Document

from case_threads.core import Route
from case_threads.shared_cache import forget

# Fields of an Email Route that a new case takes over (F10); customer exists with ERPNext only.
CASE_DEFAULT_FIELDS = ("queue", "priority", "case_type", "customer")


class EmailRoute(Document):
	def validate(self):
		self.address_pattern = (self.address_pattern or "").strip().lower()
		pattern = self.subject_pattern or ""
		if pattern.lower().startswith("re:"):
			try:
				re.compile(pattern[3:])
			except re.error as e:
				frappe.throw(_("The subject regular expression is not valid: {0}").format(e))

	def on_change(self):
		forget_routes()

	def on_trash(self):
		forget_routes()

	def after_rename(self, old, new, merge=False):
		forget_routes()

	def as_route(self):
		return Route(
			name=self.name,
			address_pattern=self.address_pattern,
			email_account=self.email_account or None,
			sender_pattern=self.sender_pattern or None,
			subject_pattern=self.subject_pattern or None,
			defaults={
				**{f: self.get(f) for f in CASE_DEFAULT_FIELDS if self.get(f)},
				"assignment_rule": self.assignment_rule or None,
			},
			acknowledge=bool(self.acknowledge),
			acknowledgement_template=self.acknowledgement_template or None,
		)


ROUTES_CACHE_KEY = "case_threads:enabled_routes"


def forget_routes():
	forget(ROUTES_CACHE_KEY)


def enabled_routes():
	"""The enabled routes, in the order they are tried; cached until a route changes."""
	return frappe.cache.get_value(ROUTES_CACHE_KEY, _load_routes)


def _load_routes():
	names = frappe.get_all(
		"Email Route", filters={"enabled": 1}, order_by="sequence asc, creation asc", pluck="name"
	)
	return [frappe.get_doc("Email Route", name).as_route() for name in names]
