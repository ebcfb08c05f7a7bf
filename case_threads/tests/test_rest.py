"""F16 over HTTP: Frappe's own request handling (werkzeug test client on frappe.app.application)."""

import frappe
from frappe.tests.test_api import FrappeAPITestCase

from case_threads.tests.test_routing import OTHER, RoutingTestCase


def api_token(user):
	"""An API key/secret pair for `user`, as an integrator would use it."""
	doc = frappe.get_doc("User", user)
	key, secret = frappe.generate_hash(length=15), frappe.generate_hash(length=15)
	doc.api_key, doc.api_secret = key, secret
	doc.save(ignore_permissions=True)
	frappe.db.commit()
	return {"Authorization": f"token {key}:{secret}"}


class TestRest(RoutingTestCase, FrappeAPITestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.headers = {user: api_token(user) for user in (cls.agent_a, cls.agent_b, cls.manager)}

	def names(self, user, doctype):
		response = self.get(
			self.resource(doctype),
			{"limit_page_length": 0, "filters": '[["status","!=","x"]]'},
			headers=self.headers[user],
		)
		self.assertEqual(response.status_code, 200, response.text)
		return {row["name"] for row in response.json["data"]}

	def test_unprocessed_email_is_scoped_to_the_agents_mailboxes(self):
		mine = self.unprocessed()
		theirs = self.unprocessed(to="third@third.test", mailbox=self.third)

		self.assertIn(mine.name, self.names(self.agent_a, "Unprocessed Email"))
		self.assertNotIn(theirs.name, self.names(self.agent_a, "Unprocessed Email"))
		self.assertTrue({mine.name, theirs.name} <= self.names(self.manager, "Unprocessed Email"))

		response = self.get(
			self.resource("Unprocessed Email", theirs.name), headers=self.headers[self.agent_a]
		)
		self.assertEqual(response.status_code, 403)
		response = self.post(
			self.method("case_threads.api.unprocessed_delete"),
			{"name": theirs.name},
			headers=self.headers[self.agent_a],
		)
		self.assertEqual(response.status_code, 403)
		self.assertEqual(frappe.db.get_value("Unprocessed Email", theirs.name, "status"), "Unprocessed")

		response = self.post(
			self.method("case_threads.api.unprocessed_create_case"),
			{"name": mine.name},
			headers=self.headers[self.agent_a],
		)
		self.assertEqual(response.status_code, 200, response.text)
		case = response.json["message"]["case"]
		self.assertIn(case, self.names(self.agent_a, "Case"))

	def test_guest_gets_nothing(self):
		parked = self.unprocessed()
		for path in (self.resource("Unprocessed Email"), self.resource("Case"), self.resource("Email Route")):
			self.assertEqual(self.get(path).status_code, 403, path)
		response = self.post(self.method("case_threads.api.unprocessed_delete"), {"name": parked.name})
		self.assertEqual(response.status_code, 403)
		response = self.post(self.method("case_threads.api.case_history"), {"email": OTHER})
		self.assertEqual(response.status_code, 403)

	def test_routes_are_edited_by_managers_only(self):
		route = {
			"route_name": frappe.generate_hash(length=8),
			"address_pattern": "rest@other.test",
			"sequence": 99,
		}
		response = self.post(self.resource("Email Route"), route, headers=self.headers[self.agent_a])
		self.assertEqual(response.status_code, 403)
		response = self.post(self.resource("Email Route"), route, headers=self.headers[self.manager])
		self.assertEqual(response.status_code, 200, response.text)
		frappe.delete_doc("Email Route", route["route_name"], ignore_permissions=True)
		frappe.db.commit()
