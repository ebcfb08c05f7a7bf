"""The desk buttons: the app's form scripts load on their forms and call only whitelisted methods."""

import re
from pathlib import Path

import frappe
from frappe.desk.form.meta import get_meta
from frappe.tests.utils import FrappeTestCase

from case_threads import api

APP = Path(__file__).resolve().parents[1]
API_CALL = re.compile(r'(?:case_threads\.api\.|CT_API \+ ")(\w+)')


class TestDeskScripts(FrappeTestCase):
	def test_form_scripts_call_only_whitelisted_methods(self):
		called = set()
		for path in [*APP.rglob("*.js")]:
			called.update(API_CALL.findall(path.read_text()))
		self.assertTrue({"create_case_from_email", "connect_to_case", "disconnect_from_case"} <= called)
		for name in called:
			self.assertIn(getattr(api, name), frappe.whitelisted, name)

	def test_buttons_are_on_the_communication_and_unprocessed_forms(self):
		communication = getattr(get_meta("Communication", cached=False), "__js")
		for label in ("Create Case", "Connect to Case", "Disconnect from Case", "Open Case"):
			self.assertIn(f'__("{label}")', communication)
		self.assertIn("case_threads.create_case_dialog", communication)
		unprocessed = getattr(get_meta("Unprocessed Email", cached=False), "__js")
		self.assertIn("unprocessed_create_case", unprocessed)
		self.assertIn("case_threads.create_case_dialog = function", unprocessed)
