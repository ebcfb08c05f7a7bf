"""Hard mail through Frappe's real receive path (issue 20): attachments Frappe refuses or over the
limits never cost the case, the raw message stays retrievable, spam flagged by the mail server,
and Unhandled Email in a Case Manager's sight with Retry."""

import email
import os
from email.message import EmailMessage
from email.utils import make_msgid

import frappe
from frappe.custom.doctype.property_setter.property_setter import make_property_setter
from frappe.tests.utils import FrappeTestCase

from case_threads import unhandled_api
from case_threads.tests.browser_utils import Desk, LiveDesk, desk_user
from case_threads.tests.test_inbound import setup_routing
from case_threads.tests.test_outbound import route
from case_threads.tests.utils import (
	build_mail,
	case_of,
	communication_for,
	make_mailbox,
	make_user,
	receive,
	unique,
)

HARD = "hard@ct.test"
MANAGER = "manager.i20@ct.test"
AGENT = "agent.i20@ct.test"
TAG_NAME = '"><svg onload=alert(1)>.txt'
MB = 1024 * 1024


def mail_with(attachments, sender=None, subject=None, headers=None, to=HARD, in_reply_to=None):
	"""Raw bytes of a customer mail carrying `attachments` [(file name, bytes, mime type)]."""
	msg = EmailMessage()
	msg["From"] = sender or f"{unique('cust')}@customer.test"
	msg["To"] = to
	msg["Subject"] = subject or f"Contract {unique('s')}"
	msg["Message-ID"] = make_msgid(domain="customer.test")
	if in_reply_to:
		msg["In-Reply-To"] = in_reply_to
	for key, value in (headers or {}).items():
		msg[key] = value
	msg.set_content("Please find the contract attached.")
	for name, data, mime in attachments:
		maintype, subtype = mime.split("/")
		msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
	return msg.as_bytes()


def message_id_of(raw):
	return email.message_from_bytes(raw)["Message-ID"]


def files_of(communication):
	return frappe.get_all(
		"File",
		filters={"attached_to_doctype": "Communication", "attached_to_name": communication.name},
		fields=["name", "file_name", "file_url"],
	)


def content_of(file_name):
	content = frappe.get_doc("File", file_name).get_content()
	return content.encode() if isinstance(content, str) else content


def notes_on(doctype, name):
	return frappe.get_all(
		"Comment",
		filters={"reference_doctype": doctype, "reference_name": name, "comment_type": "Info"},
		pluck="content",
	)


class HardMailTestCase(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		setup_routing()
		cls.mailbox = make_mailbox(HARD, outgoing=1)
		make_user(MANAGER, ["Case Manager"])
		make_user(AGENT, ["Case Agent"], mailboxes=[cls.mailbox.name])

	def setUp(self):
		self.set_limits(10, 25)

	def tearDown(self):
		frappe.set_user("Administrator")

	def set_limits(self, attachment_mb, mail_mb):
		settings = frappe.get_single("Case Threads Settings")
		settings.max_attachment_mb = attachment_mb
		settings.max_mail_mb = mail_mb
		settings.save(ignore_permissions=True)
		frappe.db.commit()

	def received(self, raw):
		receive(self.mailbox, raw)
		return communication_for(message_id_of(raw))

	def assert_raw_kept(self, communication, raw):
		emls = [f for f in files_of(communication) if f.file_name.endswith(".eml")]
		self.assertEqual(len(emls), 1, files_of(communication))
		self.assertTrue(emls[0].file_url.startswith("/private/files/"))
		self.assertEqual(content_of(emls[0].name), raw)
		return emls[0]

	def assert_no_unhandled(self, raw):
		message_id = message_id_of(raw).strip("<>")
		self.assertFalse(frappe.db.exists("Unhandled Email", {"message_id": ("like", f"%{message_id}%")}))

	def make_unhandled(self, subject=None, to=HARD):
		"""A real cause: an administrator made a Communication field mandatory, so Frappe refuses to
		store any received email, and the app keeps it as Unhandled Email."""
		make_property_setter("Communication", "phone_no", "reqd", "1", "Check")
		frappe.db.commit()
		self.addCleanup(self.remove_cause)
		sender = f"{unique('cust')}@customer.test"
		subject = subject or f"Lost printer {unique('s')}"
		raw = build_mail(subject, sender, to=to)
		receive(self.mailbox, raw)
		message_id = message_id_of(raw)
		self.assertFalse(frappe.db.exists("Communication", {"message_id": message_id.strip("<>")}))
		name = frappe.db.get_value("Unhandled Email", {"message_id": message_id})
		self.assertTrue(name)
		return name, sender, subject, message_id

	def remove_cause(self):
		frappe.db.delete("Property Setter", {"doc_type": "Communication", "field_name": "phone_no"})
		frappe.db.commit()
		frappe.clear_cache(doctype="Communication")


class TestAttachmentsNeverCostTheCase(HardMailTestCase):
	def test_tag_like_name_then_same_bytes_as_contrato_both_make_their_case(self):
		"""The reproduction from the issue."""
		data = f"the same bytes {unique()}".encode()
		first_raw = mail_with([(TAG_NAME, data, "text/plain")])
		first = self.received(first_raw)
		self.assert_no_unhandled(first_raw)
		self.assertEqual(first.reference_doctype, "Case")
		stored = [f for f in files_of(first) if not f.file_name.endswith(".eml")]
		self.assertEqual(len(stored), 1)
		# Frappe adds a suffix when the name is taken on disk (an earlier run).
		self.assertRegex(stored[0].file_name, r"^_svg onload=alert\(1\)_(\w{6})?\.txt$")
		self.assertEqual(content_of(stored[0].name), data)
		(note,) = notes_on("Case", first.reference_name)
		self.assertIn("&lt;svg onload=alert(1)&gt;.txt", note)
		self.assertIn(f"stored as {stored[0].file_name}", note)
		self.assertNotIn("<svg", note)
		eml = self.assert_raw_kept(first, first_raw)
		self.assertIn(eml.file_url, note)

		second_raw = mail_with([("contrato.txt", data, "text/plain")])
		second = self.received(second_raw)
		self.assert_no_unhandled(second_raw)
		self.assertEqual(second.reference_doctype, "Case")
		self.assertNotEqual(second.reference_name, first.reference_name)
		(contrato,) = files_of(second)
		# The twin's bytes, its own name (with Frappe's suffix when another file has that name on disk).
		self.assertRegex(contrato.file_name, r"^contrato(\w{6})?\.txt$")
		self.assertEqual(content_of(contrato.name), data)
		# Nothing was refused on the second: no note, no raw kept.
		self.assertEqual(notes_on("Case", second.reference_name), [])

	def test_stored_twin_frappe_mangled_does_not_cost_the_case(self):
		"""A File Frappe itself stored under the tag-like name (before this fix, or by an upload)
		used to fail every later email with the same bytes."""
		data = f"signature logo {unique()}".encode()
		twin = frappe.get_doc(
			{"doctype": "File", "file_name": TAG_NAME, "is_private": 1, "content": data}
		).insert(ignore_permissions=True)
		frappe.db.commit()
		self.addCleanup(lambda: frappe.db.delete("File", twin.name) or frappe.db.commit())
		self.assertIn("/", twin.file_name)  # Frappe's sanitizer made it so

		raw = mail_with([("contrato.txt", data, "text/plain")])
		comm = self.received(raw)
		self.assert_no_unhandled(raw)
		self.assertEqual(comm.reference_doctype, "Case")
		(contrato,) = [f for f in files_of(comm) if not f.file_name.endswith(".eml")]
		self.assertRegex(contrato.file_name, r"^contrato(\w{6})?\.txt$")
		self.assertNotEqual(contrato.file_url, twin.file_url)
		self.assertEqual(content_of(contrato.name), data)
		(note,) = notes_on("Case", comm.reference_name)
		self.assertIn("contrato.txt", note)
		self.assertIn("copy of its own", note)

	def test_12_mb_attachment_is_left_out_with_a_note_and_the_raw_kept(self):
		big = os.urandom(12 * MB)
		small = b"the small one"
		raw = mail_with([("scan.bin", big, "application/octet-stream"), ("notes.txt", small, "text/plain")])
		comm = self.received(raw)
		self.assert_no_unhandled(raw)
		self.assertEqual(comm.reference_doctype, "Case")
		self.assertIn("Please find the contract attached.", comm.content)
		names = [f.file_name for f in files_of(comm) if not f.file_name.endswith(".eml")]
		(name,) = names  # Frappe suffixes a name another file holds on disk (a corpus mail has notes.txt)
		self.assertRegex(name, r"^notes(\w{6})?\.txt$")
		(note,) = notes_on("Case", comm.reference_name)
		self.assertIn("scan.bin (12 MB) was left out", note)
		self.assertIn("10 MB", note)
		self.assert_raw_kept(comm, raw)

	def test_mail_over_its_limit_keeps_its_text_and_a_note(self):
		self.set_limits(10, 1)
		raw = mail_with([("photo.bin", os.urandom(2 * MB), "application/octet-stream")])
		comm = self.received(raw)
		self.assert_no_unhandled(raw)
		self.assertEqual(comm.reference_doctype, "Case")
		self.assertIn("Please find the contract attached.", comm.content)
		self.assertEqual([f.file_name for f in files_of(comm) if not f.file_name.endswith(".eml")], [])
		(note,) = notes_on("Case", comm.reference_name)
		self.assertIn("over the limit of 1 MB for one email", note)
		self.assertIn("photo.bin (2 MB) was left out", note)
		self.assert_raw_kept(comm, raw)

	def test_attachment_frappe_refuses_is_left_out_on_an_unprocessed_email(self):
		"""Frappe's own upload limit refuses the file (its receive drops it silently): the email still
		waits in the queue, with the note there and the raw kept."""
		settings = frappe.get_single("System Settings")
		previous = settings.max_file_size
		frappe.db.set_single_value("System Settings", "max_file_size", 1)
		self.addCleanup(lambda: frappe.db.set_single_value("System Settings", "max_file_size", previous))
		raw = mail_with([("plan.pdf", os.urandom(2 * MB), "application/pdf")], to="nobody@unrouted-i20.test")
		comm = self.received(raw)
		self.assert_no_unhandled(raw)
		self.assertFalse(comm.reference_name)
		unprocessed = frappe.get_doc("Unprocessed Email", {"communication": comm.name})
		self.assertEqual(unprocessed.reason, "No Route")
		(note,) = notes_on("Unprocessed Email", unprocessed.name)
		self.assertIn("plan.pdf was left out: it could not be stored", note)
		self.assert_raw_kept(comm, raw)  # whole, past the site's upload limit

	def test_ordinary_attachment_is_stored_as_frappe_does_without_note(self):
		raw = mail_with([("factura.pdf", b"%PDF-1.4 tiny", "application/pdf")])
		comm = self.received(raw)
		self.assertEqual(len(files_of(comm)), 1)
		self.assertRegex(files_of(comm)[0].file_name, r"^factura(\w{6})?\.pdf$")
		self.assertEqual(notes_on("Case", comm.reference_name), [])

	def test_inline_image_still_points_at_its_stored_file(self):
		msg = EmailMessage()
		msg["From"] = f"{unique('cust')}@customer.test"
		msg["To"] = HARD
		msg["Subject"] = f"Screenshot {unique('s')}"
		msg["Message-ID"] = make_msgid(domain="customer.test")
		msg.set_content("see below")
		msg.add_alternative('<p>see <img src="cid:shot1"></p>', subtype="html")
		msg.get_payload()[1].add_related(
			b"\x89PNG\r\n\x1a\n" + os.urandom(64), "image", "png", cid="<shot1>", filename="<shot>.png"
		)
		comm = self.received(msg.as_bytes())
		(png,) = [f for f in files_of(comm) if f.file_name.endswith(".png")]
		self.assertRegex(png.file_name, r"^_shot_(\w{6})?\.png$")
		self.assertNotIn("cid:shot1", comm.content)
		self.assertIn(png.name, comm.content)


class TestSpam(HardMailTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		# The app's acknowledgement (a route option) answers new cases; Frappe's own auto-reply is
		# never sent for mail the app handles (issue 10). Spam must get neither.
		route(HARD, acknowledge=1, acknowledgement_template="Case Acknowledgement", sequence=1)
		cls.mailbox.reload()
		cls.mailbox.enable_auto_reply = 1
		cls.mailbox.save(ignore_permissions=True)
		frappe.db.commit()

	@classmethod
	def tearDownClass(cls):
		route(HARD, acknowledge=0)
		cls.mailbox.reload()
		cls.mailbox.enable_auto_reply = 0
		cls.mailbox.save(ignore_permissions=True)
		frappe.db.commit()
		super().tearDownClass()

	def acknowledged(self, sender):
		return frappe.db.exists("Email Queue Recipient", {"recipient": sender})

	def test_new_spam_is_unprocessed_spam_without_case_or_acknowledgement(self):
		for headers in (
			{"X-Spam-Flag": "YES"},
			{"X-Spam-Status": "Yes, score=8.2 required=5.0 tests=BAYES_99,URIBL_BLACK"},
		):
			sender = f"{unique('spammer')}@spam.test"
			comm = self.received(mail_with([], sender=sender, subject="Cheap printers", headers=headers))
			self.assertFalse(comm.reference_name)
			unprocessed = frappe.get_doc("Unprocessed Email", {"communication": comm.name})
			self.assertEqual((unprocessed.reason, unprocessed.status), ("Spam", "Unprocessed"))
			self.assertFalse(frappe.db.exists("Case", {"raised_by": sender}))
			self.assertFalse(self.acknowledged(sender))

	def test_control_ordinary_new_mail_gets_a_case(self):
		# (The acknowledgement of a new case is proven in test_acknowledgement.)
		sender = f"{unique('cust')}@customer.test"
		raw = mail_with([], sender=sender, headers={"X-Spam-Status": "No, score=0.1 required=5.0"})
		comm = self.received(raw)
		self.assertEqual(comm.reference_doctype, "Case")

	def test_spam_reply_on_a_case_attaches_without_reopening_or_cloning(self):
		for status in ("Resolved", "Closed"):
			sender = f"{unique('cust')}@customer.test"
			first_raw = build_mail(f"Printer {unique('s')}", sender, to=HARD)
			first = self.received(first_raw)
			case = frappe.get_doc("Case", first.reference_name)
			case.status = status
			case.save(ignore_permissions=True)
			frappe.db.commit()
			queued = frappe.db.count("Email Queue Recipient", {"recipient": sender})

			reply_raw = build_mail(
				f"Re: {case.subject}",
				sender,
				to=HARD,
				in_reply_to=message_id_of(first_raw),
				headers={"X-Spam-Flag": "YES"},
			)
			receive(self.mailbox, reply_raw)
			case.reload()
			self.assertEqual(case_of(message_id_of(reply_raw)), case.name)
			self.assertEqual((case.status, case.reopen_count), (status, 0))
			self.assertFalse(case.cloned_to)
			reply = communication_for(message_id_of(reply_raw))
			self.assertFalse(frappe.db.exists("Unprocessed Email", {"communication": reply.name}))
			self.assertEqual(frappe.db.count("Email Queue Recipient", {"recipient": sender}), queued)


class TestUnhandledEmail(HardMailTestCase):
	def test_case_manager_sees_unhandled_email_of_the_app_mailboxes(self):
		name, sender, subject, _message_id = self.make_unhandled()
		other = make_mailbox("elsewhere-i20@ct.test")
		frappe.db.set_value("Email Account", other.name, "append_to", "ToDo")
		foreign = frappe.get_doc(
			{"doctype": "Unhandled Email", "email_account": other.name, "raw": build_mail("x", sender)}
		).insert(ignore_permissions=True)
		frappe.db.commit()
		self.addCleanup(lambda: frappe.db.delete("Unhandled Email", foreign.name) or frappe.db.commit())

		frappe.set_user(MANAGER)
		rows = {row["name"]: row for row in unhandled_api.unhandled_emails()}
		self.assertIn(name, rows)
		self.assertNotIn(foreign.name, rows)
		self.assertEqual((rows[name]["sender"], rows[name]["subject"]), (sender, subject))
		self.assertEqual(rows[name]["email_account"], self.mailbox.name)
		self.assertIn("MandatoryError", rows[name]["reason"])
		# Frappe's own list and form, through its permission engine.
		listed = frappe.get_list("Unhandled Email", pluck="name", limit_page_length=0)
		self.assertIn(name, listed)
		self.assertNotIn(foreign.name, listed)
		self.assertTrue(
			frappe.has_permission("Unhandled Email", "read", frappe.get_doc("Unhandled Email", name))
		)
		self.assertFalse(frappe.has_permission("Unhandled Email", "read", foreign))
		self.assertFalse(
			frappe.has_permission("Unhandled Email", "write", frappe.get_doc("Unhandled Email", name))
		)

		frappe.set_user(AGENT)
		self.assertRaises(frappe.PermissionError, unhandled_api.unhandled_emails)
		self.assertRaises(frappe.PermissionError, unhandled_api.retry_unhandled_email, name)
		self.assertRaises(frappe.PermissionError, frappe.get_list, "Unhandled Email")

		frappe.set_user(MANAGER)
		self.assertRaises(frappe.PermissionError, unhandled_api.retry_unhandled_email, foreign.name)

	def test_retry_makes_the_case_once_the_cause_is_gone(self):
		name, sender, subject, message_id = self.make_unhandled()
		frappe.set_user(MANAGER)
		# The cause is still there: it stays, once, with the new reason.
		self.assertRaises(frappe.ValidationError, unhandled_api.retry_unhandled_email, name)
		frappe.set_user("Administrator")
		self.assertTrue(frappe.db.exists("Unhandled Email", name))
		self.assertEqual(frappe.db.count("Unhandled Email", {"message_id": message_id}), 1)
		self.assertFalse(frappe.db.exists("Communication", {"message_id": message_id.strip("<>")}))

		self.remove_cause()
		frappe.set_user(MANAGER)
		result = unhandled_api.retry_unhandled_email(name)
		frappe.set_user("Administrator")
		self.assertFalse(frappe.db.exists("Unhandled Email", name))
		case = frappe.get_doc("Case", case_of(message_id))
		self.assertEqual(result["case"], case.name)
		self.assertEqual((case.raised_by, case.subject), (sender, subject))
		self.assertEqual(frappe.db.count("Communication", {"message_id": message_id.strip("<>")}), 1)
		# Gone: a second Retry finds nothing.
		frappe.set_user(MANAGER)
		self.assertRaises(frappe.DoesNotExistError, unhandled_api.retry_unhandled_email, name)

	def test_retry_of_an_unrouted_email_puts_it_in_the_queue(self):
		"""The receive path decides again: mail to an unrouted address waits, and the retrying Case
		Manager (who belongs to no mailbox) need not be able to open it."""
		name, sender, _subject, message_id = self.make_unhandled(to="desk@unrouted-i20.test")
		self.remove_cause()
		frappe.set_user(MANAGER)
		result = unhandled_api.retry_unhandled_email(name)
		self.assertEqual(frappe.session.user, MANAGER)
		frappe.set_user("Administrator")
		comm = communication_for(message_id)
		self.assertEqual(
			result["unprocessed"], frappe.db.get_value("Unprocessed Email", {"communication": comm.name})
		)
		self.assertTrue(result["unprocessed"])
		self.assertIsNone(result["case"])
		self.assertFalse(frappe.db.exists("Unhandled Email", name))
		self.assertEqual(comm.sender, sender)

	def test_retry_of_an_email_received_meanwhile_only_removes_the_unhandled_copy(self):
		name, sender, _subject, message_id = self.make_unhandled()
		self.remove_cause()
		raw = frappe.db.get_value("Unhandled Email", name, "raw")
		# The same email reaches the app through another of its mailboxes meanwhile (the first
		# mailbox's own re-pull is skipped: its receipt settled as Unhandled, issue 18).
		receive(make_mailbox("hard-copy@ct.test"), raw.encode())
		case_name = case_of(message_id)
		self.assertTrue(case_name)
		frappe.set_user(MANAGER)
		result = unhandled_api.retry_unhandled_email(name)
		frappe.set_user("Administrator")
		self.assertEqual(result["case"], case_name)
		self.assertFalse(frappe.db.exists("Unhandled Email", name))
		self.assertEqual(frappe.db.count("Communication", {"message_id": message_id.strip("<>")}), 1)
		self.assertEqual(frappe.db.count("Case", {"raised_by": sender}), 1)


class TestUnhandledEmailOverHttp(HardMailTestCase):
	"""The same rights over real HTTP (API keys against live_server), as in test_http_permissions."""

	def test_who_may_list_open_and_retry(self):
		import requests

		from case_threads.tests.live_server import live_server
		from case_threads.tests.test_http_permissions import api_headers

		name, *_rest, message_id = self.make_unhandled()
		self.remove_cause()
		other = make_mailbox("elsewhere-i20@ct.test")
		frappe.db.set_value("Email Account", other.name, "append_to", "ToDo")
		foreign = frappe.get_doc(
			{"doctype": "Unhandled Email", "email_account": other.name, "raw": build_mail("x", "a@b.test")}
		).insert(ignore_permissions=True)
		self.addCleanup(lambda: frappe.db.delete("Unhandled Email", foreign.name) or frappe.db.commit())
		headers = {
			"guest": {},
			"agent": api_headers(AGENT),
			"manager": api_headers(MANAGER),
			"system_manager": api_headers(make_user("sysman.i20@ct.test", ["System Manager"])),
		}
		frappe.db.commit()
		method = "/api/method/case_threads.unhandled_api."
		resource = "/api/resource/Unhandled Email/"
		actual = {}
		with live_server(frappe.local.site) as url, requests.Session() as http:

			def call(role, verb, path, **data):
				response = http.request(
					verb,
					url + path,
					headers=headers[role] | {"Accept": "application/json"},
					**({"params": data} if verb == "GET" else {"json": data}),
					timeout=60,
				)
				http.cookies.clear()
				return response

			for role in ("guest", "agent", "manager", "system_manager"):
				listed = call(role, "GET", method + "unhandled_emails")
				names = {r["name"] for r in listed.json()["message"]} if listed.ok else set()
				actual[role, "list"] = (listed.status_code, name in names, foreign.name in names)
				actual[role, "get"] = call(role, "GET", resource + name).status_code
				actual[role, "get foreign"] = call(role, "GET", resource + foreign.name).status_code
				actual[role, "retry foreign"] = call(
					role, "POST", method + "retry_unhandled_email", name=foreign.name
				).status_code
			for role in ("guest", "agent"):
				actual[role, "retry"] = call(
					role, "POST", method + "retry_unhandled_email", name=name
				).status_code
				frappe.db.commit()
				actual[role, "retry left it"] = bool(frappe.db.exists("Unhandled Email", name))
			retried = call("manager", "POST", method + "retry_unhandled_email", name=name)
			actual["manager", "retry"] = retried.status_code
		frappe.db.commit()
		self.assertEqual(
			actual,
			{
				("guest", "list"): (403, False, False),
				("guest", "get"): 403,
				("guest", "get foreign"): 403,
				("guest", "retry foreign"): 403,
				("guest", "retry"): 403,
				("guest", "retry left it"): True,
				("agent", "list"): (403, False, False),
				("agent", "get"): 403,
				("agent", "get foreign"): 403,
				("agent", "retry foreign"): 403,
				("agent", "retry"): 403,
				("agent", "retry left it"): True,
				("manager", "list"): (200, True, False),
				("manager", "get"): 200,
				("manager", "get foreign"): 403,
				("manager", "retry foreign"): 403,
				("system_manager", "list"): (200, True, False),
				("system_manager", "get"): 200,
				("system_manager", "get foreign"): 200,
				("system_manager", "retry foreign"): 403,
				("manager", "retry"): 200,
			},
		)
		self.assertEqual(retried.json()["message"]["case"], case_of(message_id))
		self.assertFalse(frappe.db.exists("Unhandled Email", name))


class TestUnhandledEmailInTheDesk(LiveDesk, HardMailTestCase):
	"""The Unprocessed Email list's "Unhandled Emails" dialog and the Unhandled Email form's Retry, in
	Chromium against live_server (as test_browser.py)."""

	@classmethod
	def set_up_desk(cls):
		cls.desk_manager = desk_user("desk.manager.i20@ct.test", ["Case Manager"])
		frappe.db.delete("__UserSettings", {"user": cls.desk_manager})

	def test_case_manager_retries_from_the_list_dialog_and_from_the_form(self):
		# Markup in a subject is shown as text, never run.
		first, _s, first_subject, first_id = self.make_unhandled(
			f"<img src=x onerror=alert(1)> {unique('s')}"
		)
		second, _s, second_subject, second_id = self.make_unhandled()
		self.remove_cause()
		desk = Desk(self.browser, self.url, "hard-mail-unhandled")
		self.addCleanup(desk.close)
		page = desk.page
		desk.context.set_default_timeout(60_000)  # a loaded machine
		try:
			desk.login(self.desk_manager)
		except Exception:
			desk.shot("login-failed")
			raise
		desk.goto("unprocessed-email")
		page.get_by_role("button", name="Unhandled Emails").click()
		dialog = desk.dialog("Unhandled Emails")
		row = dialog.locator("tr", has_text=first_subject)
		row.wait_for()
		self.assertIn("MandatoryError", row.inner_text())
		self.assertEqual(dialog.locator("img[src=x]").count(), 0)
		desk.shot("unhandled-dialog")
		row.get_by_role("button", name="Retry").click()
		self.assertIn("the email is on CASE-", desk.alert("Received again"))
		dialog.locator("tr", has_text=first_subject).wait_for(state="detached")
		frappe.db.commit()  # see what the server committed
		self.assertFalse(frappe.db.exists("Unhandled Email", first))
		self.assertTrue(case_of(first_id))

		dialog.locator("tr", has_text=second_subject).get_by_role("link", name="Open").click()
		desk.wait_form("Unhandled Email", second)
		desk.shot("unhandled-form")
		page.locator(".page-actions button", has_text="Retry").click()
		desk.alert("Received again")
		# The first Retry's alert may still be on screen: wait for this one's effect in the database.
		for _ in range(120):
			frappe.db.commit()  # see what the server committed
			if not frappe.db.exists("Unhandled Email", second):
				break
			page.wait_for_timeout(500)
		desk.wait_form("Case", case_of(second_id))
		self.assertFalse(frappe.db.exists("Unhandled Email", second))
		self.assertEqual(desk.errors, [])
