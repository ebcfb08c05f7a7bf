"""Inbound mail through Frappe's own receive path → Case (issue 2, 3: F1, F4-F8, F14)."""

import email.header
from unittest.mock import patch

import frappe
import pymysql.cursors
from frappe.core.doctype.communication.email import make as make_communication
from frappe.tests.utils import FrappeTestCase

from case_threads.core import find_subject_token, make_message_id, token_from_message_id
from case_threads.mail import inbound
from case_threads.settings import site_secret
from case_threads.tests.utils import (
	build_mail,
	case_of,
	communication_for,
	make_mailbox,
	make_user,
	receive,
	unique,
)

SUPPORT = "support@ct.test"
AGENT = "agent.z@ct.test"


def setup_routing():
	"""A route for every *@ct.test address so that new mail makes cases (routing: test_routing.py)."""
	if not frappe.db.exists("Email Route", "CT catch-all"):
		frappe.get_doc(
			{
				"doctype": "Email Route",
				"route_name": "CT catch-all",
				"address_pattern": "*@ct.test",
				"sequence": 1000,
			}
		).insert(ignore_permissions=True)
	settings = frappe.get_single("Case Threads Settings")
	settings.token_placement = "Subject and Header"
	settings.subject_tag_format = "[#{token}]"
	settings.save(ignore_permissions=True)
	frappe.db.commit()


class InboundTestCase(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		setup_routing()
		cls.mailbox = make_mailbox(SUPPORT, outgoing=1)
		make_user(AGENT, ["Case Agent"])

	def new_case(self, subject=None, sender=None):
		"""A case made from a fresh customer email; returns (case doc, message-id)."""
		sender = sender or f"{unique('cust')}@customer.test"
		subject = subject or f"Printer broken {unique('s')}"
		raw = build_mail(subject, sender)
		receive(self.mailbox, raw)
		message_id = email.message_from_bytes(raw)["Message-ID"]
		return frappe.get_doc("Case", case_of(message_id)), message_id

	def agent_reply(self, case, text="We are on it."):
		"""The agent answers from the Case form (Frappe's composer endpoint)."""
		result = make_communication(
			doctype="Case",
			name=case.name,
			content=text,
			subject=f"Re: {case.subject}",
			recipients=case.raised_by,
			send_email=True,
		)
		frappe.db.commit()
		return frappe.get_doc("Communication", result["name"])

	def customer_reply(self, case, subject=None, **kwargs):
		raw = build_mail(subject or f"Re: {case.subject}", case.raised_by, **kwargs)
		receive(self.mailbox, raw)
		return communication_for(email.message_from_bytes(raw)["Message-ID"])


class TestNewCase(InboundTestCase):
	def test_new_email_makes_case_with_sender_contact_and_subject(self):
		sender = f"{unique('ada')}@customer.test"
		contact = frappe.get_doc(
			{"doctype": "Contact", "first_name": "Ada", "email_ids": [{"email_id": sender, "is_primary": 1}]}
		).insert(ignore_permissions=True)
		frappe.db.commit()

		case, _message_id = self.new_case("Cannot log in", f"Ada Lovelace <{sender}>")

		self.assertEqual(case.raised_by, sender)
		self.assertEqual(case.raised_by_name, "Ada Lovelace")
		self.assertEqual(case.contact, contact.name)
		self.assertEqual(case.subject, "Cannot log in")
		self.assertEqual(case.status, "Open")
		self.assertEqual(case.channel, "Email")
		self.assertRegex(case.thread_token, r"^[A-Z0-9]{12,}$")

	def test_hook_reads_raw_headers_frappe_does_not_keep(self):
		seen = []
		original = inbound.decide_for

		def spy(communication, message):
			seen.append(message)
			return original(communication, message)

		raw = build_mail(
			"Raw header check",
			f"{unique('raw')}@customer.test",
			references="<a@x.test> <b@x.test>",
			headers={"Delivered-To": "support@ct.test", "Auto-Submitted": "no"},
		)
		with patch.object(inbound, "decide_for", side_effect=spy):
			receive(self.mailbox, raw)

		self.assertEqual(len(seen), 1)
		self.assertEqual(seen[0].references, ("a@x.test", "b@x.test"))
		self.assertEqual(seen[0].delivered_to, ("support@ct.test",))
		self.assertEqual(seen[0].headers.get("auto-submitted"), "no")


class TestThreading(InboundTestCase):
	def test_agent_reply_carries_token_in_subject_and_signed_message_id(self):
		case, _ = self.new_case()
		reply = self.agent_reply(case)

		self.assertEqual(find_subject_token(reply.subject), case.thread_token)
		self.assertEqual(token_from_message_id(reply.message_id, site_secret()), case.thread_token)
		queued = frappe.get_all("Email Queue", filters={"communication": reply.name}, pluck="message_id")
		self.assertEqual(queued, [reply.message_id])

	def test_sendmail_with_case_reference_gets_signed_message_id(self):
		case, _ = self.new_case()
		frappe.sendmail(
			recipients=[case.raised_by],
			subject="Direct note",
			message="Hello",
			reference_doctype="Case",
			reference_name=case.name,
			now=False,
		)
		message_id = frappe.get_all(
			"Email Queue", filters={"reference_name": case.name}, pluck="message_id", order_by="creation desc"
		)[0]
		self.assertEqual(token_from_message_id(message_id, site_secret()), case.thread_token)

	def test_customer_reply_by_in_reply_to(self):
		case, _ = self.new_case()
		reply = self.agent_reply(case)
		answer = self.customer_reply(case, subject="Thanks", in_reply_to=f"<{reply.message_id}>")
		self.assertEqual(answer.reference_name, case.name)

	def test_customer_reply_by_references_only(self):
		case, first_id = self.new_case()
		reply = self.agent_reply(case)
		answer = self.customer_reply(
			case,
			subject="no prefix at all",
			references=f"<unknown@elsewhere.test> {first_id} <{reply.message_id}>",
		)
		self.assertEqual(answer.reference_name, case.name)

	def test_customer_reply_without_headers_keeps_subject_tag(self):
		case, _ = self.new_case()
		reply = self.agent_reply(case)
		answer = self.customer_reply(case, subject=f"AW: {reply.subject}")
		self.assertEqual(answer.reference_name, case.name)

	def test_customer_reply_with_multipart_encoded_subject(self):
		case, _ = self.new_case()
		self.agent_reply(case)
		# The tag sits in the third encoded word; Frappe's own decoding keeps only the first.
		subject = email.header.Header("Re: Problème d'impression très urgent ", "utf-8", maxlinelen=30)
		subject.append(f"[#{case.thread_token}]", "utf-8")
		raw = build_mail("placeholder", case.raised_by).replace(
			b"Subject: placeholder", b"Subject: " + subject.encode().encode()
		)
		receive(self.mailbox, raw)
		answer = communication_for(email.message_from_bytes(raw)["Message-ID"])
		self.assertEqual(answer.reference_name, case.name)


class TestReplyReusesTheHeldCase(InboundTestCase):
	"""A reply to an open case: Frappe's `_comments` update asks the cached Case for its route, and
	finds the case the app holds (apply.hold_in_process_cache) instead of loading it again."""

	def statements(self, call):
		sent = []
		execute = pymysql.cursors.Cursor.execute

		def recording(cursor, query, args=None):
			sent.append(" ".join((query.decode() if isinstance(query, bytes) else str(query)).split()))
			return execute(cursor, query, args)

		with patch.object(pymysql.cursors.Cursor, "execute", recording):
			result = call()
		return result, sent

	def reply_statements(self, case, message_id):
		return self.statements(lambda: self.customer_reply(case, in_reply_to=message_id))

	@staticmethod
	def case_loads(sent):
		return [q for q in sent if q.startswith("SELECT * FROM `tabCase` WHERE") and "FOR UPDATE" not in q]

	def test_new_mail_writes_each_participant_once_and_on_its_case(self):
		# The sender and a Cc'd customer; before the fix, each was also written once without a parent.
		orphans = frappe.db.count("Case Participant", {"parent": ("is", "not set")})
		sender, cc = f"{unique('cust')}@customer.test", f"{unique('cc')}@customer.test"
		raw = build_mail(f"Printer broken {unique('s')}", sender, cc=cc)
		receive(self.mailbox, raw)
		case = case_of(email.message_from_bytes(raw)["Message-ID"])
		rows = frappe.get_all("Case Participant", filters={"parent": case}, pluck="email_id")
		self.assertCountEqual(rows, [sender, cc])
		self.assertEqual(frappe.db.count("Case Participant", {"parent": ("is", "not set")}), orphans)

	def test_new_mail_does_not_load_its_new_case_again(self):
		raw = build_mail(f"Printer broken {unique('s')}", f"{unique('cust')}@customer.test")
		_, sent = self.statements(lambda: receive(self.mailbox, raw))
		case = frappe.get_doc("Case", case_of(email.message_from_bytes(raw)["Message-ID"]))
		self.assertTrue([q for q in sent if q.startswith("INSERT INTO `tabCase`")])
		self.assertEqual(self.case_loads(sent), [], "the new Case was loaded after its insert")
		self.assertEqual(frappe.get_cached_doc("Case", case.name).modified, case.modified)

	def test_reply_does_not_load_the_case_again_and_the_cache_is_the_row_after_commit(self):
		case, message_id = self.new_case()
		comm, sent = self.reply_statements(case, message_id)
		self.assertEqual(comm.reference_name, case.name)
		self.assertEqual(self.case_loads(sent), [], "the Case was loaded again after its locked read")
		# Frappe's own update still happened.
		comments = frappe.parse_json(frappe.db.get_value("Case", case.name, "_comments") or "[]")
		self.assertIn(comm.name, [c["name"] for c in comments])
		# After the pull's commit the cache holds nothing stale.
		row = frappe.db.get_value("Case", case.name, ["modified", "last_customer_update"], as_dict=True)
		cached = frappe.get_cached_doc("Case", case.name)
		self.assertEqual(
			(cached.modified, cached.last_customer_update), (row.modified, row.last_customer_update)
		)
		self.assertEqual(str(row.last_customer_update), str(comm.communication_date))

	def test_an_email_rolled_back_to_its_savepoint_leaves_no_held_case(self):
		# The case was held, then the email failed and rolled back to its savepoint: what the rest of
		# that transaction reads of the case (here: when the email is parked) is the rolled-back row.
		case, message_id = self.new_case()
		before = frappe.db.get_value("Case", case.name, "last_customer_update")
		seen, park = [], inbound.park

		def parking(*args, **kwargs):
			seen.append(frappe.get_cached_doc("Case", case.name).last_customer_update)
			return park(*args, **kwargs)

		with (
			patch("case_threads.mail.apply.after_customer_email", side_effect=ValueError("broken")),
			patch.object(inbound, "park", parking),
		):
			comm = self.customer_reply(case, in_reply_to=message_id)
		self.assertFalse(comm.reference_name)  # parked, not on the case
		self.assertEqual(seen, [before])
		self.assertEqual(frappe.db.get_value("Case", case.name, "last_customer_update"), before)
		self.assertEqual(frappe.get_cached_doc("Case", case.name).last_customer_update, before)


class TestStrangers(InboundTestCase):
	def assert_not_attached(self, case, raw):
		receive(self.mailbox, raw)
		answer = communication_for(email.message_from_bytes(raw)["Message-ID"])
		self.assertNotEqual(answer.reference_name, case.name)
		return answer

	def test_forged_signed_reference_is_ignored(self):
		case, _ = self.new_case()
		forged = make_message_id(case.thread_token, b"not the site secret", frappe.local.site)
		raw = build_mail("Hello", "mallory@evil.test", references=f"<{forged}>")
		self.assert_not_attached(case, raw)

	def test_altered_signed_id_is_ignored(self):
		case, _ = self.new_case()
		reply = self.agent_reply(case)
		local, domain = reply.message_id.split("@", 1)
		altered = local[:-1] + ("0" if local[-1] != "0" else "1") + "@" + domain
		raw = build_mail("Hello", "mallory@evil.test", in_reply_to=f"<{altered}>")
		self.assert_not_attached(case, raw)

	def test_case_number_from_stranger_is_ignored_but_from_participant_counts(self):
		case, _ = self.new_case()
		stranger = build_mail(f"About {case.name}", "mallory@evil.test")
		self.assert_not_attached(case, stranger)

		participant = self.customer_reply(case, subject=f"About {case.name}")
		self.assertEqual(participant.reference_name, case.name)

	def test_frappe_name_before_at_trick_does_not_thread(self):
		case, first_id = self.new_case()
		name = communication_for(first_id).name
		raw = build_mail("Hi", "mallory@evil.test", in_reply_to=f"<{name}@anything.test>")
		answer = self.assert_not_attached(case, raw)
		self.assertNotEqual(answer.reference_name, case.name)


class TestLifecycle(InboundTestCase):
	def set_status(self, case, status):
		case.reload()
		case.status = status
		case.save(ignore_permissions=True)
		frappe.db.commit()

	def test_reply_to_open_and_replied_attaches_and_opens(self):
		case, _ = self.new_case()
		self.agent_reply(case)
		case.reload()
		self.assertEqual(case.status, "Replied")
		self.customer_reply(case, subject=f"Re: [#{case.thread_token}]")
		case.reload()
		self.assertEqual(case.status, "Open")
		self.assertTrue(case.last_customer_update)

	def test_reply_to_resolved_reopens_counts_and_notes(self):
		case, _ = self.new_case()
		self.set_status(case, "Resolved")
		self.customer_reply(case, subject=f"Re: [#{case.thread_token}] still broken")
		case.reload()
		self.assertEqual(case.status, "Open")
		self.assertEqual(case.reopen_count, 1)
		self.assertTrue(
			frappe.db.exists(
				"Comment",
				{"reference_name": case.name, "comment_type": "Info", "content": ("like", "Reopened%")},
			)
		)

	def test_reopen_notifies_assignee(self):
		from frappe.desk.form.assign_to import add as assign

		case, _ = self.new_case()
		assign({"assign_to": [AGENT], "doctype": "Case", "name": case.name}, ignore_permissions=True)
		self.set_status(case, "Resolved")
		# The assignment made a Notification Log of its own: count only the new-email alerts.
		alerts = {"document_type": "Case", "document_name": case.name, "for_user": AGENT, "type": "Alert"}
		self.assertEqual(frappe.db.count("Notification Log", alerts), 0)
		reply = self.customer_reply(case, subject=f"Re: [#{case.thread_token}]")
		logs = frappe.get_all("Notification Log", filters=alerts, pluck="subject")
		self.assertEqual(len(logs), 1)
		self.assertIn(reply.sender, logs[0])

	def test_reply_to_closed_clones_with_fields_and_notes(self):
		case, first_id = self.new_case()
		case.reload()
		case.priority = "High"
		case.case_type = "Hardware"
		case.flagged = 1
		case.save(ignore_permissions=True)
		case.add_comment("Comment", "Internal: customer is on the old firmware")
		self.set_status(case, "Closed")

		answer = self.customer_reply(case, in_reply_to=first_id)
		case.reload()
		clone = frappe.get_doc("Case", answer.reference_name)

		self.assertNotEqual(clone.name, case.name)
		self.assertEqual(case.status, "Closed")
		self.assertEqual(case.cloned_to, clone.name)
		self.assertEqual(clone.cloned_from, case.name)
		self.assertEqual(clone.status, "Open")
		self.assertEqual((clone.priority, clone.case_type, clone.flagged), ("High", "Hardware", 1))
		self.assertEqual((clone.subject, clone.raised_by), (case.subject, case.raised_by))
		self.assertNotEqual(clone.thread_token, case.thread_token)
		notes = frappe.get_all(
			"Comment", filters={"reference_name": clone.name, "comment_type": "Comment"}, pluck="content"
		)
		self.assertIn("Internal: customer is on the old firmware", notes)

		# The next reply on the old thread goes to the clone, not to a second clone.
		later = self.customer_reply(case, in_reply_to=first_id)
		self.assertEqual(later.reference_name, clone.name)

	def test_out_of_office_does_not_reopen(self):
		case, first_id = self.new_case()
		self.set_status(case, "Resolved")
		answer = self.customer_reply(
			case,
			subject="Automatic reply: out of office",
			in_reply_to=first_id,
			headers={"Auto-Submitted": "auto-replied"},
		)
		case.reload()
		self.assertEqual(answer.reference_name, case.name)
		self.assertEqual(case.status, "Resolved")
		self.assertEqual(case.reopen_count, 0)

	def test_bounce_does_not_clone(self):
		case, first_id = self.new_case()
		self.set_status(case, "Closed")
		raw = build_mail(
			"Undelivered Mail Returned to Sender",
			"MAILER-DAEMON@mx.customer.test",
			in_reply_to=first_id,
			headers={"Auto-Submitted": "auto-replied", "X-Failed-Recipients": case.raised_by},
		)
		receive(self.mailbox, raw)
		case.reload()
		self.assertFalse(case.cloned_to)
		self.assertEqual(case.status, "Closed")
		self.assertEqual(case_of(email.message_from_bytes(raw)["Message-ID"]), case.name)

	def test_internal_user_reply_attaches_without_reopening(self):
		case, first_id = self.new_case()
		self.set_status(case, "Resolved")
		raw = build_mail("Re: note", AGENT, in_reply_to=first_id)
		receive(self.mailbox, raw)
		case.reload()
		self.assertEqual(case_of(email.message_from_bytes(raw)["Message-ID"]), case.name)
		self.assertEqual(case.status, "Resolved")


class TestNothingLost(InboundTestCase):
	def test_repull_creates_nothing_new(self):
		case, first_id = self.new_case()
		raw = build_mail(case.subject, case.raised_by, message_id=first_id)
		before = (frappe.db.count("Case"), frappe.db.count("Communication"))
		receive(self.mailbox, raw)
		self.assertEqual((frappe.db.count("Case"), frappe.db.count("Communication")), before)

	def test_one_mail_to_two_mailboxes_makes_one_case(self):
		sales = make_mailbox("sales@ct.test")
		raw = build_mail(
			"Quote please " + unique("q"), f"{unique('b')}@customer.test", to=f"{SUPPORT}, sales@ct.test"
		)
		before = frappe.db.count("Case")
		receive(self.mailbox, raw)
		receive(sales, raw)
		self.assertEqual(frappe.db.count("Case"), before + 1)

	def test_error_in_decision_parks_email_and_pull_goes_on(self):
		bad = build_mail("Will fail " + unique("f"), f"{unique('f')}@customer.test")
		good = build_mail("Will work " + unique("g"), f"{unique('g')}@customer.test")
		original = inbound.apply_action

		def fail_once(communication, message, action):
			if communication.subject.startswith("Will fail"):
				raise RuntimeError("injected failure")
			return original(communication, message, action)

		with patch.object(inbound, "apply_action", side_effect=fail_once):
			receive(self.mailbox, bad, good)

		bad_comm = communication_for(email.message_from_bytes(bad)["Message-ID"])
		parked = frappe.get_doc("Unprocessed Email", {"communication": bad_comm.name})
		self.assertEqual((parked.reason, parked.status), ("Error", "Unprocessed"))
		self.assertIn("injected failure", parked.error)
		self.assertFalse(bad_comm.reference_name)
		self.assertTrue(case_of(email.message_from_bytes(good)["Message-ID"]))

	def test_total_failure_ends_in_unhandled_email_and_pull_goes_on(self):
		for use_imap in (1, 0):
			with self.subTest(use_imap=use_imap):
				mailbox = make_mailbox(f"broken{use_imap}@ct.test", use_imap=use_imap)
				bad = build_mail("Breaks " + unique("b"), f"{unique('b')}@customer.test")
				good = build_mail("Works " + unique("w"), f"{unique('w')}@customer.test")
				bad_id = email.message_from_bytes(bad)["Message-ID"]

				def fail(communication, *args, **kwargs):
					if communication.subject.startswith("Breaks"):
						raise RuntimeError("injected failure")

				original = inbound.apply_action
				with (
					patch.object(
						inbound, "apply_action", side_effect=lambda c, m, a: fail(c) or original(c, m, a)
					),
					patch.object(inbound, "park", side_effect=fail),
				):
					# Nothing reaches the Email Account's loop (Frappe would re-raise it after the pull).
					receive(mailbox, bad, good)

				self.assertTrue(frappe.db.exists("Unhandled Email", {"message_id": bad_id}))
				self.assertFalse(frappe.db.exists("Communication", {"message_id": bad_id.strip("<>")}))
				self.assertTrue(case_of(email.message_from_bytes(good)["Message-ID"]))


class TestDeadlockWhileProcessing(InboundTestCase):
	"""Two workers' transactions can deadlock in Frappe's own Communication save (its timeline rows):
	that is not the email's fault, so the pull stops there and the next pull takes the mail again,
	instead of keeping it as an Unhandled Email for a person (found by test_workers, 2 of 2,088)."""

	def test_deadlock_pulls_the_mail_again_instead_of_keeping_it_unhandled(self):
		import pymysql

		raw = build_mail(f"Deadlock {unique('d')}", f"{unique('dl')}@customer.test")
		message_id = email.message_from_bytes(raw)["Message-ID"].strip("<>")
		real, calls = inbound.after_insert, []

		def deadlock_once(doc, method=None):
			calls.append(doc.name)
			if len(calls) == 1:
				raise pymysql.OperationalError(1213, "Deadlock found when trying to get lock")
			return real(doc, method)

		def unhandled():
			return frappe.db.exists("Unhandled Email", {"message_id": ("like", f"%{message_id}%")})

		with patch.object(inbound, "after_insert", deadlock_once):
			receive(self.mailbox, raw)
			self.assertEqual(len(calls), 1)
			self.assertFalse(unhandled())
			self.assertFalse(frappe.db.exists("Communication", {"message_id": message_id}))
			receive(self.mailbox, raw)  # the next pull
		self.assertEqual(len(calls), 2)
		self.assertTrue(case_of(message_id))
		self.assertFalse(unhandled())
