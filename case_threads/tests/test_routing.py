"""Email Routes, the Unprocessed queue and its actions, connect/disconnect, permissions (issue 4)."""

import email

import frappe
from frappe.tests.utils import FrappeTestCase

from case_threads import api
from case_threads.tests.test_inbound import InboundTestCase
from case_threads.tests.utils import (
	build_mail,
	case_of,
	communication_for,
	make_mailbox,
	make_user,
	receive,
	unique,
)

OTHER = "info@other.test"


def drop_route(name):
	"""Delete a test route; the cases it opened keep their data but forget it (a route cases still
	name cannot be deleted, only disabled, in the desk)."""
	frappe.db.set_value("Case", {"email_route": name}, "email_route", None, update_modified=False)
	frappe.delete_doc("Email Route", name, ignore_permissions=True)


def make_route(name, pattern, **values):
	if frappe.db.exists("Email Route", name):
		drop_route(name)
	doc = frappe.get_doc({"doctype": "Email Route", "route_name": name, "address_pattern": pattern, **values})
	doc.insert(ignore_permissions=True)
	frappe.db.commit()
	return doc


class RoutingTestCase(InboundTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.other = make_mailbox(OTHER)
		cls.third = make_mailbox("third@third.test")
		# Agents are Frappe "Inbox User"s of their mailboxes, as the README says.
		cls.agent_a = make_user("agent.a@ct.test", ["Case Agent", "Inbox User"], [cls.other.name])
		cls.agent_b = make_user("agent.b@ct.test", ["Case Agent", "Inbox User"], [cls.third.name])
		cls.manager = make_user("manager@ct.test", ["Case Manager"])
		cls.outsider = make_user("outsider@ct.test", [])

	def tearDown(self):
		frappe.set_user("Administrator")

	def unprocessed(self, subject=None, to=OTHER, mailbox=None, **kwargs):
		raw = build_mail(subject or unique("Unrouted"), f"{unique('u')}@customer.test", to=to, **kwargs)
		receive(mailbox or self.other, raw)
		comm = communication_for(email.message_from_bytes(raw)["Message-ID"])
		return frappe.get_doc("Unprocessed Email", {"communication": comm.name})


class TestRoutes(RoutingTestCase):
	def test_route_defaults_go_on_the_new_case(self):
		make_route("CT sales", "sales+*@other.test", sequence=1, priority="High", case_type="Sales")
		raw = build_mail("Quote " + unique("q"), f"{unique('s')}@customer.test", to="sales+eu@other.test")
		receive(self.other, raw)
		case = frappe.get_doc("Case", case_of(email.message_from_bytes(raw)["Message-ID"]))
		self.assertEqual((case.priority, case.case_type), ("High", "Sales"))

	def test_first_route_in_order_wins(self):
		make_route("CT late", "orders@other.test", sequence=20, case_type="Late")
		make_route("CT early", "*@other.test", sequence=5, case_type="Early", email_account=self.other.name)
		raw = build_mail("Order " + unique("o"), f"{unique('o')}@customer.test", to="orders@other.test")
		receive(self.other, raw)
		self.assertEqual(
			frappe.db.get_value("Case", case_of(email.message_from_bytes(raw)["Message-ID"]), "case_type"),
			"Early",
		)
		drop_route("CT early")
		frappe.db.commit()

	def test_route_cache_is_dropped_again_when_the_change_commits(self):
		"""Another worker may read the routes between our save and our commit and cache the old list."""
		from case_threads.case_threads.doctype.email_route.email_route import ROUTES_CACHE_KEY, enabled_routes

		route = make_route("CT cache", "cache@other.test", sequence=30)
		route.case_type = "Changed"
		route.save(ignore_permissions=True)
		frappe.cache.set_value(ROUTES_CACHE_KEY, ["the list another worker read before the commit"])
		frappe.db.commit()
		self.assertFalse(frappe.cache.exists(ROUTES_CACHE_KEY))
		(cached,) = [r for r in enabled_routes() if r.name == "CT cache"]
		self.assertEqual(cached.defaults["case_type"], "Changed")
		drop_route("CT cache")
		frappe.db.commit()

	def test_unrouted_address_waits_in_unprocessed(self):
		parked = self.unprocessed()
		self.assertEqual((parked.reason, parked.status), ("No Route", "Unprocessed"))
		self.assertEqual((parked.email_account, parked.mailbox_address), (self.other.name, OTHER))
		self.assertFalse(frappe.db.get_value("Communication", parked.communication, "reference_name"))

	def test_bcc_only_waits_in_unprocessed(self):
		parked = self.unprocessed(to="someone@customer.test", headers={"Delivered-To": OTHER})
		self.assertEqual(parked.reason, "Only Bcc")

	def test_unmatched_bounce_waits_with_its_reason(self):
		parked = self.unprocessed(
			subject="Undelivered Mail Returned to Sender",
			headers={"Auto-Submitted": "auto-replied", "X-Failed-Recipients": "x@y.test"},
		)
		self.assertEqual(parked.reason, "Bounce")

	def test_test_route_reports_route_or_reason(self):
		make_route("CT probe", "probe@other.test", sequence=3)
		self.assertEqual(api.test_route(address="probe@other.test")["route"], "CT probe")
		self.assertEqual(api.test_route(address="nobody@nowhere.test")["reason"], "No Route")
		frappe.set_user(self.outsider)
		with self.assertRaises(frappe.PermissionError):
			api.test_route(address="probe@other.test")


class TestUnprocessedActions(RoutingTestCase):
	def test_create_case_marks_processed_and_keeps_email(self):
		parked = self.unprocessed()
		frappe.set_user(self.agent_a)
		result = api.unprocessed_create_case(parked.name, priority="Urgent")
		frappe.set_user("Administrator")
		parked.reload()
		self.assertEqual((parked.status, parked.case), ("Processed", result["case"]))
		self.assertEqual(frappe.db.get_value("Case", result["case"], "priority"), "Urgent")
		self.assertEqual(
			frappe.db.get_value("Communication", parked.communication, "reference_name"), result["case"]
		)

	def test_agent_without_case_create_right_may_still_create_from_queue(self):
		from frappe.permissions import add_permission, reset_perms, update_permission_property

		# A role that may work the queue (and read its mail) but not create cases.
		if not frappe.db.exists("Role", "CT Queue Reader"):
			frappe.get_doc({"doctype": "Role", "role_name": "CT Queue Reader", "desk_access": 1}).insert()
		add_permission("Unprocessed Email", "CT Queue Reader")
		update_permission_property("Unprocessed Email", "CT Queue Reader", 0, "write", 1)
		self.addCleanup(lambda: reset_perms("Unprocessed Email") or frappe.db.commit())
		make_user("queue.only@ct.test", ["CT Queue Reader"], [self.other.name])
		parked = self.unprocessed()

		frappe.set_user("queue.only@ct.test")
		self.assertFalse(frappe.has_permission("Case", "create"))
		with self.assertRaises(frappe.PermissionError):
			api.create_case_from_email(self.unprocessed_comm_of_other_mailbox())
		result = api.unprocessed_create_case(parked.name)
		frappe.set_user("Administrator")
		self.assertEqual(
			frappe.db.get_value("Communication", parked.communication, "reference_name"), result["case"]
		)

	def unprocessed_comm_of_other_mailbox(self):
		"""An email that is not waiting in this user's queue: the exception does not apply."""
		_case, first_id = self.new_case()
		frappe.set_user("Administrator")
		comm = communication_for(first_id)
		api.disconnect_from_case(comm.name)
		frappe.set_user("queue.only@ct.test")
		return comm.name

	def test_connect_marks_processed_and_reopens_resolved(self):
		case, _ = self.new_case()
		case.reload()
		case.status = "Resolved"
		case.save(ignore_permissions=True)
		parked = self.unprocessed()
		api.unprocessed_connect(parked.name, case.name)
		parked.reload()
		case.reload()
		self.assertEqual((parked.status, parked.case), ("Processed", case.name))
		self.assertEqual(case.status, "Open")

	def test_delete_keeps_record_as_deleted(self):
		parked = self.unprocessed()
		api.unprocessed_delete(parked.name)
		parked.reload()
		self.assertEqual(parked.status, "Deleted")
		self.assertTrue(frappe.db.exists("Communication", parked.communication))
		with self.assertRaises(frappe.ValidationError):
			api.unprocessed_delete(parked.name)

	def test_agent_sees_only_own_mailboxes(self):
		mine = self.unprocessed()
		theirs = self.unprocessed(to="third@third.test", mailbox=self.third)
		frappe.set_user(self.agent_a)
		visible = set(frappe.get_list("Unprocessed Email", pluck="name", limit_page_length=0))
		self.assertIn(mine.name, visible)
		self.assertNotIn(theirs.name, visible)
		with self.assertRaises(frappe.PermissionError):
			api.unprocessed_delete(theirs.name)
		frappe.set_user(self.manager)
		visible = set(frappe.get_list("Unprocessed Email", pluck="name", limit_page_length=0))
		self.assertTrue({mine.name, theirs.name} <= visible)

	def test_guest_gets_nothing(self):
		parked = self.unprocessed()
		frappe.set_user("Guest")
		for call in (
			lambda: frappe.get_list("Unprocessed Email", limit_page_length=0),
			lambda: api.unprocessed_delete(parked.name),
			lambda: api.create_case_from_email(parked.communication),
			lambda: api.case_history(email="x@y.test") and frappe.has_permission("Case", "read", throw=True),
		):
			with self.assertRaises(frappe.PermissionError):
				call()


class TestConnectDisconnect(RoutingTestCase):
	def test_create_connect_disconnect_round_trip(self):
		parked = self.unprocessed()
		case = api.create_case_from_email(parked.communication)["case"]
		self.assertEqual(frappe.db.get_value("Communication", parked.communication, "reference_name"), case)

		api.disconnect_from_case(parked.communication)
		self.assertFalse(frappe.db.get_value("Communication", parked.communication, "reference_name"))
		notes = frappe.get_all(
			"Comment", filters={"reference_name": case, "comment_type": "Info"}, pluck="content"
		)
		self.assertTrue(any("disconnected" in n for n in notes))

		api.connect_to_case(parked.communication, case)
		self.assertEqual(frappe.db.get_value("Communication", parked.communication, "reference_name"), case)

	def test_connect_to_closed_needs_confirmation_then_clones(self):
		case, _ = self.new_case()
		case.reload()
		case.status = "Closed"
		case.save(ignore_permissions=True)
		parked = self.unprocessed()
		with self.assertRaises(frappe.ValidationError):
			api.connect_to_case(parked.communication, case.name)
		result = api.connect_to_case(parked.communication, case.name, confirm_clone=1)
		self.assertEqual(frappe.db.get_value("Case", result["case"], "cloned_from"), case.name)

	def test_refused_without_rights(self):
		case, first_id = self.new_case()
		comm = communication_for(first_id)
		frappe.set_user(self.outsider)
		for call in (
			lambda: api.disconnect_from_case(comm.name),
			lambda: api.connect_to_case(comm.name, case.name),
			lambda: api.create_case_from_email(comm.name),
		):
			with self.assertRaises(frappe.PermissionError):
				call()

	def test_case_history_lists_the_contacts_cases(self):
		case, _ = self.new_case()
		rows = api.case_history(email=case.raised_by)
		self.assertEqual([r.name for r in rows], [case.name])
		self.assertEqual(rows[0].status, "Open")
		self.assertEqual([r.name for r in api.case_history(txt=case.subject[-10:])], [case.name])


class TestTranslations(FrappeTestCase):
	def test_spanish_and_french_strings_load(self):
		from frappe.translate import get_all_translations

		for lang, expected in (("es", "Crear caso"), ("fr", "Créer un dossier")):
			frappe.clear_cache()
			self.assertEqual(get_all_translations(lang).get("Create Case"), expected)


class TestAgentDesk(RoutingTestCase):
	def test_transfer_assigns_agent_and_queue_and_notes_it(self):
		case, _ = self.new_case()
		if not frappe.db.exists("User Group", "CT Second Line"):
			frappe.get_doc(
				{
					"doctype": "User Group",
					"name": "CT Second Line",
					"user_group_members": [{"user": self.agent_b}],
				}
			).insert(ignore_permissions=True)
		api.transfer_case(case.name, agent=self.agent_b, queue="CT Second Line")
		case.reload()
		self.assertEqual(case.queue, "CT Second Line")
		self.assertEqual(case.get_assigned_users(), {self.agent_b})
		notes = frappe.get_all(
			"Comment", filters={"reference_name": case.name, "comment_type": "Info"}, pluck="content"
		)
		self.assertTrue(any("Transferred to" in n for n in notes))
		frappe.set_user(self.outsider)
		with self.assertRaises(frappe.PermissionError):
			api.transfer_case(case.name, agent=self.agent_a)

	def test_disposition_required_on_close_when_configured(self):
		settings = frappe.get_single("Case Threads Settings")
		settings.require_disposition_on_close = 1
		settings.save()
		self.addCleanup(
			lambda: frappe.db.set_single_value("Case Threads Settings", "require_disposition_on_close", 0)
		)
		if not frappe.db.exists("Case Disposition", "CT Fixed"):
			frappe.get_doc({"doctype": "Case Disposition", "disposition_name": "CT Fixed"}).insert()
		case, _ = self.new_case()
		case.reload()
		case.status = "Closed"
		with self.assertRaises(frappe.ValidationError):
			case.save()
		case.reload()
		case.status = "Closed"
		case.disposition = "CT Fixed"
		case.save()
		self.assertTrue(case.closed_on and case.resolved_on)

	def test_sticky_agent_gets_the_reply(self):
		frappe.db.set_single_value("Case Threads Settings", "sticky_agent", 1)
		self.addCleanup(lambda: frappe.db.set_single_value("Case Threads Settings", "sticky_agent", 0))
		case, first_id = self.new_case()
		frappe.db.set_value("Case", case.name, "last_worked_by", self.agent_a)
		frappe.db.commit()
		self.customer_reply(case, in_reply_to=first_id)
		case.reload()
		self.assertIn(self.agent_a, case.get_assigned_users())


class TestPreview(RoutingTestCase):
	def test_preview_reports_and_writes_nothing(self):
		from case_threads.preview import preview

		case, first_id = self.new_case()
		mails = [
			("reply.eml", build_mail("Re: x", case.raised_by, in_reply_to=first_id)),
			("new.eml", build_mail("Hello", "new@customer.test", to="support@ct.test")),
			("stray.eml", build_mail("Hello", "new@customer.test", to="nobody@nowhere.test")),
		]
		counts = {d: frappe.db.count(d) for d in ("Case", "Communication", "Unprocessed Email")}
		rows, totals = preview(mails)
		self.assertEqual(
			rows,
			[
				("reply.eml", "attach", case.name, "human"),
				("new.eml", "new_case", "CT catch-all", "human"),
				("stray.eml", "unprocessed", "", "no_route"),
			],
		)
		self.assertEqual(totals["attach"], 1)
		self.assertEqual({d: frappe.db.count(d) for d in counts}, counts)
