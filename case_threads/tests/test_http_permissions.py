"""Who may do what, over real HTTP (issue 6, F11, F16, F17): one allow/deny table, asserted at once.

Every whitelisted method of case_threads.api and every resource of the app (plus the mailboxes'
Communications) is called against live_server with API-key auth, as Guest, a Case Agent of
mailbox A, a Case Agent of mailbox B, a Case Manager and a System Manager.

The rule the table encodes (README "Roles", PRODUCT F11/F17):
- mail that is on no case yet (a Communication of a mailbox, its Unprocessed Email) belongs to its
  mailbox: only that mailbox's agents (Inbox User + a User Emails row), managers for the queue,
  and System Managers may see or act on it — agent A never reaches mailbox B's and vice versa;
- Cases are shared by every Case Agent (the Case has no mailbox; nothing in the product scopes
  cases by mailbox), and an email on a case is seen through its case (Frappe's Communication rule);
- Case Manager edits routes, dispositions and settings and works every mailbox's queue (without
  Inbox User a manager sees no mailbox's loose mail: empty lists, 403 on the email itself);
  only managers and System Managers delete cases.

Outcomes: an HTTP status; for lists, also which of the A/B marker records came back
("200 A+B", "200 A", "200 none"); for writes, a suffix when the database disagrees with the
status ("200 no effect", "403 BUT DONE").
"""

import email
import json

import frappe
import requests
from frappe.tests.utils import FrappeTestCase

from case_threads import api
from case_threads.tests.live_server import live_server
from case_threads.tests.test_inbound import setup_routing
from case_threads.tests.utils import build_mail, communication_for, make_mailbox, make_user, receive, unique

ROLES = ("guest", "agent_a", "agent_b", "manager", "system_manager")
# No route covers these addresses: new mail waits in Unprocessed Email of its mailbox.
MAILBOX = {"A": "perm-a@perm-ct.test", "B": "perm-b@perm-ct.test"}
QUEUE = "CT perm queue"

# fmt: off
# call: (guest, agent_a, agent_b, manager, system_manager)
EXPECTED = {
	# case_threads.api, the Communication form's actions
	"api create_case_from_email  mail A":  ("403", "200", "403", "403", "200"),
	"api create_case_from_email  mail B":  ("403", "403", "200", "403", "200"),
	"api connect_to_case         mail A":  ("403", "200", "403", "403", "200"),
	"api connect_to_case         mail B":  ("403", "403", "200", "403", "200"),
	"api disconnect_from_case    case A":  ("403", "200", "200", "403", "200"),
	"api disconnect_from_case    case B":  ("403", "200", "200", "403", "200"),
	"api case_history            A+B":     ("403", "200 A+B", "200 A+B", "200 A+B", "200 A+B"),
	"api unlinked_emails         case A":  ("403", "200 A", "200 none", "200 none", "200 A"),
	"api unlinked_emails         case B":  ("403", "200 none", "200 B", "200 none", "200 B"),
	"api test_route":                      ("403", "200", "200", "200", "200"),
	"api transfer_case           case A":  ("403", "200", "200", "200", "200"),
	"api transfer_case           case B":  ("403", "200", "200", "200", "200"),
	# case_threads.api, the Unprocessed queue's actions
	"api unprocessed_create_case mail A":  ("403", "200", "403", "200", "200"),
	"api unprocessed_create_case mail B":  ("403", "403", "200", "200", "200"),
	"api unprocessed_connect     mail A":  ("403", "200", "403", "200", "200"),
	"api unprocessed_connect     mail B":  ("403", "403", "200", "200", "200"),
	"api unprocessed_delete      mail A":  ("403", "200", "403", "200", "200"),
	"api unprocessed_delete      mail B":  ("403", "403", "200", "200", "200"),
	"api unprocessed_restore     mail A":  ("403", "200", "403", "200", "200"),
	"api unprocessed_restore     mail B":  ("403", "403", "200", "200", "200"),
	# case_threads.api, merge and split (issue 12): write on both cases
	"api merge_cases":                     ("403", "200", "200", "200", "200"),
	"api split_case":                      ("403", "200", "200", "200", "200"),
	# /api/resource
	"Case list":                           ("403", "200 A+B", "200 A+B", "200 A+B", "200 A+B"),
	"Case get A":                          ("403", "200", "200", "200", "200"),
	"Case get B":                          ("403", "200", "200", "200", "200"),
	"Case create":                         ("403", "200", "200", "200", "200"),
	"Case update A":                       ("403", "200", "200", "200", "200"),
	"Case update B":                       ("403", "200", "200", "200", "200"),
	"Case delete":                         ("403", "403", "403", "202", "202"),
	"Unprocessed Email list":              ("403", "200 A", "200 B", "200 A+B", "200 A+B"),
	"Unprocessed Email get A":             ("403", "200", "403", "200", "200"),
	"Unprocessed Email get B":             ("403", "403", "200", "200", "200"),
	"Unprocessed Email create":            ("403", "403", "403", "200", "200"),
	# The status changes only through the queue's actions (issue 12), never by a plain PUT.
	"Unprocessed Email set status A":      ("403", "403", "403", "403", "403"),
	"Unprocessed Email set status B":      ("403", "403", "403", "403", "403"),
	"Unprocessed Email delete A":          ("403", "403", "403", "202", "202"),
	"Communication list (mail)":           ("403", "200 A", "200 B", "200 none", "200 A+B"),
	"Communication get mail A":            ("403", "200", "403", "403", "200"),
	"Communication get mail B":            ("403", "403", "200", "403", "200"),
	"Communication get on case B":         ("403", "200", "200", "403", "200"),
	"Email Route list":                    ("403", "200", "200", "200", "200"),
	"Email Route get":                     ("403", "200", "200", "200", "200"),
	"Email Route create":                  ("403", "403", "403", "200", "200"),
	"Email Route update":                  ("403", "403", "403", "200", "200"),
	"Email Route delete":                  ("403", "403", "403", "202", "202"),
	"Case Disposition list":               ("403", "200", "200", "200", "200"),
	"Case Disposition get":                ("403", "200", "200", "200", "200"),
	"Case Disposition create":             ("403", "403", "403", "200", "200"),
	"Case Disposition update":             ("403", "403", "403", "200", "200"),
	"Case Disposition delete":             ("403", "403", "403", "202", "202"),
	"Case Threads Settings get":           ("403", "200", "200", "200", "200"),
	"Case Threads Settings update":        ("403", "403", "403", "200", "200"),
}
# fmt: on


def api_headers(user):
	"""Authorization header of a fresh API key/secret pair for `user`."""
	doc = frappe.get_doc("User", user)
	doc.api_key, doc.api_secret = frappe.generate_hash(length=15), frappe.generate_hash(length=15)
	doc.save(ignore_permissions=True)
	return {"Authorization": f"token {doc.api_key}:{doc.get_password('api_secret')}"}


class TestHttpPermissions(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		setup_routing()
		cls.mailbox = {x: make_mailbox(address) for x, address in MAILBOX.items()}
		users = {
			"agent_a": make_user(
				"agent.a@perm-ct.test", ["Case Agent", "Inbox User"], [cls.mailbox["A"].name]
			),
			"agent_b": make_user(
				"agent.b@perm-ct.test", ["Case Agent", "Inbox User"], [cls.mailbox["B"].name]
			),
			"manager": make_user("manager@perm-ct.test", ["Case Manager"]),
			"system_manager": make_user("sysman@perm-ct.test", ["System Manager"]),
		}
		cls.headers = {"guest": {}} | {role: api_headers(user) for role, user in users.items()}
		if not frappe.db.exists("User Group", QUEUE):
			frappe.get_doc(
				{"doctype": "User Group", "name": QUEUE, "user_group_members": [{"user": users["agent_a"]}]}
			).insert(ignore_permissions=True)
		if not frappe.db.exists("Case Disposition", "CT perm solved"):
			frappe.get_doc({"doctype": "Case Disposition", "disposition_name": "CT perm solved"}).insert(
				ignore_permissions=True
			)

		# Records that the read calls look for, one per mailbox, their subjects sharing a marker.
		cls.marker = unique("permx")
		cls.sender, cls.mail, cls.unprocessed, cls.case, cls.on_case = {}, {}, {}, {}, {}
		for x in "AB":
			cls.sender[x] = f"{unique(x.lower())}@customer.test"
			cls.case[x], cls.on_case[x] = cls.new_case(x)
			cls.mail[x] = cls.receive(x)  # the same customer again, still on no case
			cls.unprocessed[x] = frappe.db.get_value("Unprocessed Email", {"communication": cls.mail[x]})
		frappe.db.commit()

	@classmethod
	def receive(cls, x, sender=None):
		"""A customer email to mailbox `x`, waiting unprocessed; returns the Communication name."""
		raw = build_mail(f"{cls.marker} {unique('mail')}", sender or cls.sender[x], to=MAILBOX[x])
		receive(cls.mailbox[x], raw)
		return communication_for(email.message_from_bytes(raw)["Message-ID"]).name

	@classmethod
	def new_case(cls, x):
		"""A case made from an email of mailbox `x`; returns (case, that email)."""
		comm = cls.receive(x)
		case = api.create_case_from_email(comm, subject=f"{cls.marker} case {x}")["case"]
		frappe.db.commit()
		return case, comm

	def fresh_unprocessed(self, x):
		comm = self.receive(x, f"{unique('n')}@customer.test")
		frappe.db.commit()
		return comm, frappe.db.get_value("Unprocessed Email", {"communication": comm})

	# Each call: (http method, path, payload, effect) where effect() tells whether the write
	# happened in the database (None for reads); lists return a `visible` mapping instead.

	def calls(self):
		marker_filter = json.dumps([["subject", "like", f"%{self.marker}%"]])
		calls = {}

		def method(endpoint, effect=None, get=False, **data):
			return ("GET" if get else "POST", f"/api/method/case_threads.api.{endpoint}", data, effect)

		for x in "AB":
			calls[f"api create_case_from_email  mail {x}"] = self.call_create_case_from_email(x, method)
			calls[f"api connect_to_case         mail {x}"] = self.call_connect(x, method)
			calls[f"api disconnect_from_case    case {x}"] = self.call_disconnect(x, method)
			calls[f"api unlinked_emails         case {x}"] = lambda x=x: (
				*method("unlinked_emails", get=True, case=self.case[x]),
				{y: self.mail[y] for y in "AB"},
			)
			calls[f"api transfer_case           case {x}"] = self.call_transfer(x, method)
			calls[f"api unprocessed_create_case mail {x}"] = self.call_unprocessed(x, method, "create_case")
			calls[f"api unprocessed_connect     mail {x}"] = self.call_unprocessed(x, method, "connect")
			calls[f"api unprocessed_delete      mail {x}"] = self.call_unprocessed(x, method, "delete")
			calls[f"api unprocessed_restore     mail {x}"] = self.call_restore(x, method)
		calls["api case_history            A+B"] = lambda: (
			*method("case_history", get=True, txt=self.marker),
			{y: self.case[y] for y in "AB"},
		)
		calls["api test_route"] = lambda: method("test_route", get=True, address=MAILBOX["A"])
		calls["api merge_cases"] = self.call_merge(method)
		calls["api split_case"] = self.call_split(method)

		for label, doctype, records in (
			("Case list", "Case", self.case),
			("Unprocessed Email list", "Unprocessed Email", self.unprocessed),
			("Communication list (mail)", "Communication", self.mail),
		):
			markers = {y: records[y] for y in "AB"}
			calls[label] = lambda doctype=doctype, markers=markers: (
				"GET",
				self.list_path(doctype, marker_filter),
				{},
				None,
				markers,
			)
		for x in "AB":
			calls[f"Case get {x}"] = lambda x=x: ("GET", self.doc_path("Case", self.case[x]), {}, None)
			calls[f"Case update {x}"] = self.call_update(
				"Case", lambda x=x: self.case[x], "case_type", unique
			)
			calls[f"Unprocessed Email get {x}"] = lambda x=x: (
				"GET",
				self.doc_path("Unprocessed Email", self.unprocessed[x]),
				{},
				None,
			)
			calls[f"Unprocessed Email set status {x}"] = self.call_update(
				"Unprocessed Email", lambda x=x: self.fresh_unprocessed(x)[1], "status", lambda: "Deleted"
			)
			calls[f"Communication get mail {x}"] = lambda x=x: (
				"GET",
				self.doc_path("Communication", self.mail[x]),
				{},
				None,
			)
		calls["Communication get on case B"] = lambda: (
			"GET",
			self.doc_path("Communication", self.on_case["B"]),
			{},
			None,
		)
		calls["Case create"] = self.call_create("Case", "subject", status="Open")
		# A case made from the queue cannot be deleted while its Unprocessed Email links to it.
		calls["Case delete"] = self.call_delete(
			"Case", lambda: self.make("Case", subject=f"{self.marker} {unique('del')}", status="Open")
		)
		calls["Unprocessed Email create"] = self.call_create(
			"Unprocessed Email", "subject", communication=self.mail["A"], email_account=self.mailbox["A"].name
		)
		calls["Unprocessed Email delete A"] = self.call_delete(
			"Unprocessed Email", lambda: self.fresh_unprocessed("A")[1]
		)

		def route():
			return self.make(
				"Email Route", route_name=unique("CT perm"), address_pattern="x@perm-ct.test", sequence=900
			)

		calls["Email Route list"] = lambda: ("GET", self.list_path("Email Route"), {}, None)
		calls["Email Route get"] = lambda: ("GET", self.doc_path("Email Route", "CT catch-all"), {}, None)
		calls["Email Route create"] = self.call_create(
			"Email Route", "route_name", address_pattern="new@perm-ct.test", sequence=500
		)
		calls["Email Route update"] = self.call_update("Email Route", route, "case_type", unique)
		calls["Email Route delete"] = self.call_delete("Email Route", route)

		def disposition():
			return self.make("Case Disposition", disposition_name=unique("CT perm"))

		calls["Case Disposition list"] = lambda: ("GET", self.list_path("Case Disposition"), {}, None)
		calls["Case Disposition get"] = lambda: (
			"GET",
			self.doc_path("Case Disposition", "CT perm solved"),
			{},
			None,
		)
		calls["Case Disposition create"] = self.call_create("Case Disposition", "disposition_name")
		calls["Case Disposition update"] = self.call_update(
			"Case Disposition", disposition, "description", unique
		)
		calls["Case Disposition delete"] = self.call_delete("Case Disposition", disposition)

		settings = "Case Threads Settings"
		calls["Case Threads Settings get"] = lambda: ("GET", self.doc_path(settings, settings), {}, None)
		calls["Case Threads Settings update"] = self.call_update(
			settings, lambda: settings, "subject_tag_format", lambda: f"[#{{token}}] {unique('t')}"
		)
		return calls

	def call_create_case_from_email(self, x, method):
		def call():
			comm = self.fresh_unprocessed(x)[0]
			return method(
				"create_case_from_email",
				lambda: frappe.db.get_value("Communication", comm, "reference_doctype") == "Case",
				communication=comm,
			)

		return call

	def call_connect(self, x, method):
		def call():
			comm = self.fresh_unprocessed(x)[0]
			return method(
				"connect_to_case",
				lambda: frappe.db.get_value("Communication", comm, "reference_name") == self.case[x],
				communication=comm,
				case=self.case[x],
			)

		return call

	def call_disconnect(self, x, method):
		def call():
			comm = self.fresh_unprocessed(x)[0]
			api.connect_to_case(comm, self.case[x])
			frappe.db.commit()
			return method(
				"disconnect_from_case",
				lambda: not frappe.db.get_value("Communication", comm, "reference_name"),
				communication=comm,
			)

		return call

	def call_transfer(self, x, method):
		def call():
			frappe.db.set_value("Case", self.case[x], "queue", None)
			frappe.db.commit()
			return method(
				"transfer_case",
				lambda: frappe.db.get_value("Case", self.case[x], "queue") == QUEUE,
				case=self.case[x],
				queue=QUEUE,
			)

		return call

	def call_unprocessed(self, x, method, action):
		def call():
			name = self.fresh_unprocessed(x)[1]
			status = "Deleted" if action == "delete" else "Processed"
			data = {"case": self.case[x]} if action == "connect" else {}
			return method(
				f"unprocessed_{action}",
				lambda: frappe.db.get_value("Unprocessed Email", name, "status") == status,
				name=name,
				**data,
			)

		return call

	def call_restore(self, x, method):
		def call():
			name = self.fresh_unprocessed(x)[1]
			api.unprocessed_delete(name)
			frappe.db.commit()
			return method(
				"unprocessed_restore",
				lambda: frappe.db.get_value("Unprocessed Email", name, "status") == "Unprocessed",
				name=name,
			)

		return call

	def two_cases(self):
		"""Two fresh cases of mailbox A's customer; returns (source, target, an email of the source)."""
		source, source_mail = self.new_case("A")
		target, _mail = self.new_case("A")
		frappe.db.commit()
		return source, target, source_mail

	def call_merge(self, method):
		def call():
			source, target, _mail = self.two_cases()
			return method(
				"merge_cases",
				lambda: frappe.db.get_value("Case", source, "merged_into") == target,
				source=source,
				target=target,
			)

		return call

	def call_split(self, method):
		def call():
			case, _first = self.new_case("A")
			later = self.receive("A")
			api.connect_to_case(later, case)
			frappe.db.commit()
			return method(
				"split_case",
				lambda: frappe.db.get_value("Communication", later, "reference_name") not in (case, None),
				case=case,
				communication=later,
			)

		return call

	def call_create(self, doctype, key, **values):
		def call():
			values[key] = f"{self.marker} {unique('new')}"

			def effect():
				return bool(frappe.db.exists(doctype, {key: values[key]}))

			return "POST", f"/api/resource/{doctype}", dict(values), effect

		return call

	def call_update(self, doctype, make, field, new_value):
		def call():
			name, value = make(), new_value()
			frappe.db.commit()

			def effect():
				return frappe.db.get_value(doctype, name, field) == value

			return "PUT", self.doc_path(doctype, name), {field: value}, effect

		return call

	def call_delete(self, doctype, make):
		def call():
			name = make()
			frappe.db.commit()
			return "DELETE", self.doc_path(doctype, name), {}, lambda: not frappe.db.exists(doctype, name)

		return call

	def make(self, doctype, **values):
		return frappe.get_doc({"doctype": doctype, **values}).insert(ignore_permissions=True).name

	def list_path(self, doctype, filters=None):
		path = f"/api/resource/{doctype}?limit_page_length=0"
		return path + (f"&filters={filters}" if filters else "")

	def doc_path(self, doctype, name):
		return f"/api/resource/{doctype}/{name}"

	def outcome(self, response, effect, visible):
		status = str(response.status_code)
		if effect is not None:
			frappe.db.commit()  # see what the server committed
			done, ok = effect(), response.ok
			return status + ("" if done == ok else (" no effect" if ok else " BUT DONE"))
		if visible is not None and response.ok:
			body = response.json()
			rows = body.get("message") if "message" in body else body.get("data")
			names = {row["name"] for row in rows}
			return f"{status} {'+'.join(x for x in 'AB' if visible[x] in names) or 'none'}"
		return status

	def test_permission_matrix(self):
		actual, details = {}, {}
		with live_server(frappe.local.site) as url, requests.Session() as http:
			for call_name, make_call in self.calls().items():
				for role in ROLES:
					http_method, path, data, effect, *visible = make_call()
					frappe.db.commit()
					response = http.request(
						http_method,
						url + path,
						headers=self.headers[role] | {"Accept": "application/json"},
						**({"params": data} if http_method == "GET" else {"json": data}),
						timeout=30,
					)
					http.cookies.clear()  # each call stands alone, on its own API key
					actual[call_name, role] = self.outcome(response, effect, visible[0] if visible else None)
					details[call_name, role] = f"{http_method} {path} {data} -> {response.text[:300]}"

		setup_routing()  # the settings row above changed the subject tag format

		expected = {
			(call, role): value
			for call, row in EXPECTED.items()
			for role, value in zip(ROLES, row, strict=True)
		}
		self.assertEqual(set(EXPECTED), {call for call, _ in actual}, "every call has an expected row")
		wrong = {key: value for key, value in actual.items() if expected[key] != value}
		if wrong:
			self.fail(self.report(actual, expected, wrong, details))

	def report(self, actual, expected, wrong, details):
		width = max(map(len, EXPECTED))
		lines = [
			"permission matrix (actual; *expected* where it differs)",
			" " * width + "".join(f"  {r:<16}" for r in ROLES),
		]
		for call in EXPECTED:
			cells = []
			for role in ROLES:
				cell = actual[call, role]
				if (call, role) in wrong:
					cell += f" *{expected[call, role]}*"
				cells.append(f"  {cell:<16}")
			lines.append(call.ljust(width) + "".join(cells))
		lines.append("\ndifferences:")
		for key in wrong:
			lines.append(f"{key}: expected {expected[key]}, got {actual[key]}\n    {details[key]}")
		return "\n".join(lines)
