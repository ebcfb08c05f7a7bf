"""Case lifecycle without holes (issue 12): merge, split, disconnect back to the queue, internal users,
transfer over sticky agent, clone fidelity, mail on another doctype, small faults.

Mail goes through Frappe's real receive path (case_threads.tests.utils.receive)."""

import ast
import email
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import frappe
from frappe.desk.form import assign_to
from frappe.desk.form.load import _get_communications
from frappe.utils import add_to_date, get_datetime, now_datetime

from case_threads import api
from case_threads.core import make_message_id
from case_threads.settings import site_secret
from case_threads.tests.test_inbound import AGENT, InboundTestCase
from case_threads.tests.utils import build_mail, communication_for, make_user, receive, unique

# No route covers this address: mail to it waits in the Unprocessed queue.
UNROUTED = "help@unrouted-i12.test"
AGENT_2 = "agent.y@ct.test"
EMPLOYEE = "employee.i12@ct.test"
APP = Path(__file__).resolve().parents[1]


def message_id_of(raw):
	return email.message_from_bytes(raw)["Message-ID"]


def notes(case_name, comment_type="Comment"):
	return frappe.get_all(
		"Comment",
		filters={"reference_doctype": "Case", "reference_name": case_name, "comment_type": comment_type},
		fields=["name", "content", "owner", "creation"],
		order_by="creation asc",
	)


def emails_of(case_name):
	return set(
		frappe.get_all(
			"Communication", filters={"reference_doctype": "Case", "reference_name": case_name}, pluck="name"
		)
	)


def attach_file(case_name, content=b"log line\n"):
	return frappe.get_doc(
		{
			"doctype": "File",
			"file_name": f"{unique('log')}.txt",
			"attached_to_doctype": "Case",
			"attached_to_name": case_name,
			"content": content,
			"is_private": 1,
		}
	).insert(ignore_permissions=True)


class LifecycleTestCase(InboundTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		make_user(AGENT_2, ["Case Agent"])

	def tearDown(self):
		frappe.set_user("Administrator")

	def set_status(self, case, status, **values):
		case.reload()
		case.update({"status": status, **values})
		case.save(ignore_permissions=True)
		frappe.db.commit()

	def unrouted(self, sender=None, subject=None):
		"""A customer email that waits in the queue; returns its Communication."""
		raw = build_mail(subject or unique("Question"), sender or f"{unique('q')}@customer.test", to=UNROUTED)
		receive(self.mailbox, raw)
		return communication_for(message_id_of(raw))


class TestMerge(LifecycleTestCase):
	def test_merge_moves_emails_notes_files_and_assignees_and_closes_the_source(self):
		a, a_id = self.new_case()
		b, b_id = self.new_case()
		b_second = self.customer_reply(b, subject=f"Re: [#{b.thread_token}] more details")
		b.add_comment("Comment", "B: customer is on firmware 1.2")
		file = attach_file(b.name)
		assign_to.add({"assign_to": [AGENT], "doctype": "Case", "name": b.name}, ignore_permissions=True)
		frappe.db.commit()
		b_emails = emails_of(b.name)

		result = api.merge_cases(b.name, a.name)
		frappe.db.commit()

		self.assertEqual(result["case"], a.name)
		self.assertEqual(emails_of(b.name), set())
		self.assertTrue(b_emails | {communication_for(a_id).name} <= emails_of(a.name))
		self.assertEqual(communication_for(b_id).reference_name, a.name)
		b_second.reload()
		self.assertEqual(b_second.reference_name, a.name)
		self.assertIn("B: customer is on firmware 1.2", [n.content for n in notes(a.name)])
		self.assertEqual(notes(b.name), [])
		self.assertIn(
			file.file_url,
			frappe.get_all(
				"File", filters={"attached_to_doctype": "Case", "attached_to_name": a.name}, pluck="file_url"
			),
		)
		a.reload()
		b.reload()
		self.assertEqual((b.status, b.merged_into), ("Closed", a.name))
		self.assertIn(AGENT, a.get_assigned_users())
		self.assertTrue(any(f"Merged into {a.name}" in n.content for n in notes(b.name, "Info")))
		self.assertTrue(any(f"{b.name} was merged into" in n.content for n in notes(a.name, "Info")))
		# A's timeline (Frappe's own query for the form) holds B's emails, in time order.
		timeline = _get_communications("Case", a.name, limit=50)
		self.assertTrue(b_emails <= {c["name"] for c in timeline})
		dates = [get_datetime(c["communication_date"]) for c in timeline]
		self.assertEqual(dates, sorted(dates, reverse=True))

	def test_later_mail_on_the_merged_thread_lands_on_the_target_and_never_clones(self):
		a, _a_id = self.new_case()
		b, b_id = self.new_case()
		api.merge_cases(b.name, a.name)
		self.set_status(a, "Resolved")

		# By In-Reply-To: one of B's stored emails (it moved to A).
		by_id = self.customer_reply(b, subject="Thanks", in_reply_to=b_id)
		self.assertEqual(by_id.reference_name, a.name)
		a.reload()
		self.assertEqual((a.status, a.reopen_count), ("Open", 1))

		# By B's token: in the subject, and signed in a Message-ID that this site never stored.
		by_subject = self.customer_reply(b, subject=f"Re: [#{b.thread_token}] still there")
		self.assertEqual(by_subject.reference_name, a.name)
		signed = make_message_id(b.thread_token, site_secret(), frappe.local.site)
		by_header = self.customer_reply(b, subject="no tag here", references=f"<{signed}>")
		self.assertEqual(by_header.reference_name, a.name)

		# By B's number, from B's raiser (a participant); a stranger's mention counts for nothing.
		by_number = self.customer_reply(b, subject=f"About {b.name}")
		self.assertEqual(by_number.reference_name, a.name)
		stranger = build_mail(f"About {b.name}", f"{unique('mallory')}@evil.test")
		receive(self.mailbox, stranger)
		self.assertNotEqual(communication_for(message_id_of(stranger)).reference_name, a.name)

		b.reload()
		self.assertEqual(b.status, "Closed")
		self.assertFalse(b.cloned_to)
		self.assertFalse(frappe.db.exists("Case", {"cloned_from": b.name}))

	def test_merge_follows_the_chain_and_refuses_loops(self):
		a, _ = self.new_case()
		b, _ = self.new_case()
		c, _ = self.new_case()
		api.merge_cases(b.name, a.name)
		# C into B: B was merged into A, so C lands on A.
		self.assertEqual(api.merge_cases(c.name, b.name)["case"], a.name)
		self.assertEqual(frappe.db.get_value("Case", c.name, "merged_into"), a.name)
		# A into B (or C) would come back to A.
		with self.assertRaisesRegex(frappe.ValidationError, "already forwards to"):
			api.merge_cases(a.name, b.name)
		with self.assertRaisesRegex(frappe.ValidationError, "itself"):
			api.merge_cases(a.name, a.name)
		with self.assertRaisesRegex(frappe.ValidationError, "already merged"):
			api.merge_cases(b.name, a.name)
		self.assertFalse(frappe.db.get_value("Case", a.name, "merged_into"))

	def test_merge_needs_write_on_both_cases(self):
		a, _ = self.new_case()
		b, _ = self.new_case()
		outsider = make_user(f"{unique('outsider')}@ct.test", ["Blogger"])
		frappe.set_user(outsider)
		with self.assertRaises(frappe.PermissionError):
			api.merge_cases(b.name, a.name)
		frappe.set_user("Administrator")
		self.assertFalse(frappe.db.get_value("Case", b.name, "merged_into"))


class TestSplit(LifecycleTestCase):
	def test_split_moves_exactly_the_later_emails_and_their_notes(self):
		case, first_id = self.new_case()
		case.reload()
		case.update({"priority": "High", "case_type": "Hardware"})
		case.save(ignore_permissions=True)
		reply = self.agent_reply(case)
		second = self.customer_reply(case, subject=f"Re: [#{case.thread_token}] other printer")
		third = self.customer_reply(case, subject=f"Re: [#{case.thread_token}] and the scanner")
		start = add_to_date(now_datetime(), hours=-1)
		ordered = [communication_for(first_id).name, reply.name, second.name, third.name]
		for minutes, name in enumerate(ordered):
			frappe.db.set_value(
				"Communication",
				name,
				"communication_date",
				add_to_date(start, minutes=minutes),
				update_modified=False,
			)
		early = case.add_comment("Comment", "before the split point")
		late = case.add_comment("Comment", "about the other printer")
		frappe.db.set_value("Comment", early.name, "creation", add_to_date(start, seconds=90))
		frappe.db.set_value("Comment", late.name, "creation", add_to_date(start, seconds=150))
		frappe.db.commit()

		with self.assertRaisesRegex(frappe.ValidationError, "empty"):
			api.split_case(case.name, ordered[0])
		new = frappe.get_doc("Case", api.split_case(case.name, second.name)["case"])
		frappe.db.commit()

		self.assertEqual(emails_of(new.name), {second.name, third.name})
		self.assertEqual(emails_of(case.name), {ordered[0], reply.name})
		self.assertEqual([n.content for n in notes(new.name)], ["about the other printer"])
		self.assertEqual([n.content for n in notes(case.name)], ["before the split point"])
		self.assertEqual((new.priority, new.case_type, new.raised_by), ("High", "Hardware", case.raised_by))
		self.assertEqual(new.status, "Open")
		self.assertNotEqual(new.thread_token, case.thread_token)
		# Later replies to a moved email follow it to the new case.
		answer = self.customer_reply(case, subject="ok", in_reply_to=f"<{third.message_id}>")
		self.assertEqual(answer.reference_name, new.name)


class TestNothingLost(LifecycleTestCase):
	def places(self, communications):
		"""For each email: on a case, and its Unprocessed Email rows (status)."""
		out = {}
		for name in communications:
			ref = frappe.db.get_value("Communication", name, ["reference_doctype", "reference_name"])
			rows = frappe.get_all("Unprocessed Email", filters={"communication": name}, pluck="status")
			out[name] = (ref[0] == "Case" and bool(ref[1]), rows)
		return out

	def assert_one_place(self, communications, step):
		for name, (on_case, rows) in self.places(communications).items():
			queued = [status for status in rows if status in ("Unprocessed", "Deleted")]
			self.assertLessEqual(len(rows), 1, f"{step}: {name} has {len(rows)} queue rows")
			self.assertEqual(on_case + len(queued), 1, f"{step}: {name} on_case={on_case} queue={rows}")

	def test_disconnect_puts_the_email_back_in_the_queue(self):
		comm = self.unrouted()
		parked = frappe.get_doc("Unprocessed Email", {"communication": comm.name})
		case = api.unprocessed_create_case(parked.name)["case"]
		parked.reload()
		self.assertEqual((parked.status, parked.case), ("Processed", case))

		result = api.disconnect_from_case(comm.name)

		parked.reload()
		self.assertEqual(result["unprocessed"], parked.name)
		self.assertEqual((parked.status, parked.reason, parked.case), ("Unprocessed", "Disconnected", None))
		self.assertEqual(frappe.db.count("Unprocessed Email", {"communication": comm.name}), 1)
		self.assertFalse(frappe.db.get_value("Communication", comm.name, "reference_name"))

		# An email that made its case directly had no queue row: it gets one.
		_routed, routed_id = self.new_case()
		first = communication_for(routed_id)
		api.disconnect_from_case(first.name)
		queued = frappe.get_doc("Unprocessed Email", {"communication": first.name})
		self.assertEqual((queued.status, queued.reason), ("Unprocessed", "Disconnected"))

	def test_any_sequence_of_actions_leaves_every_email_in_exactly_one_place(self):
		sender = f"{unique('seq')}@customer.test"
		mails = [self.unrouted(sender) for _ in range(4)]
		routed, routed_id = self.new_case(sender=sender)
		names = [m.name for m in mails] + [communication_for(routed_id).name]
		queue = {m.name: frappe.db.get_value("Unprocessed Email", {"communication": m.name}) for m in mails}
		self.assert_one_place(names, "received")

		steps = [
			("create case from 0", lambda: api.unprocessed_create_case(queue[names[0]])),
			("connect 1 to 0's case", lambda: api.unprocessed_connect(queue[names[1]], case_of(names[0]))),
			("disconnect 1", lambda: api.disconnect_from_case(names[1])),
			("connect 1 to the routed case", lambda: api.connect_to_case(names[1], routed.name)),
			("delete 2 (spam)", lambda: api.unprocessed_delete(queue[names[2]])),
			("restore 2", lambda: api.unprocessed_restore(queue[names[2]])),
			("create case from 3", lambda: api.unprocessed_create_case(queue[names[3]])),
			("merge 0's case into the routed case", lambda: api.merge_cases(case_of(names[0]), routed.name)),
			("disconnect 0 (now on the routed case)", lambda: api.disconnect_from_case(names[0])),
			(
				"delete 3's case",
				lambda: frappe.delete_doc("Case", case_of(names[3]), ignore_permissions=True),
			),
			("delete 2 again", lambda: api.unprocessed_delete(queue[names[2]])),
			# Connected from the email's own form while its queue row says Deleted.
			("connect deleted 2 to the routed case", lambda: api.connect_to_case(names[2], routed.name)),
		]
		for step, action in steps:
			action()
			frappe.db.commit()
			self.assert_one_place(names, step)
		# Where each ended, as the steps say.
		self.assertEqual(case_of(names[1]), routed.name)
		self.assertEqual(case_of(names[2]), routed.name)
		self.assertEqual(frappe.db.get_value("Unprocessed Email", queue[names[2]], "status"), "Processed")
		for name in (names[0], names[3]):
			self.assertEqual(
				frappe.db.get_value("Unprocessed Email", {"communication": name}, ["status", "reason"]),
				("Unprocessed", "Disconnected"),
			)

	def test_unprocessed_status_changes_only_through_its_actions(self):
		parked = frappe.get_doc("Unprocessed Email", {"communication": self.unrouted().name})
		self.assertTrue(parked.meta.get_field("status").read_only)
		parked.status = "Processed"
		with self.assertRaises(frappe.PermissionError):
			parked.save(ignore_permissions=True)
		self.assertEqual(frappe.db.get_value("Unprocessed Email", parked.name, "status"), "Unprocessed")


def case_of(communication_name):
	return frappe.db.get_value("Communication", communication_name, "reference_name")


class TestInternalUsers(LifecycleTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		if not frappe.db.exists("Role", "CT Employee"):
			frappe.get_doc({"doctype": "Role", "role_name": "CT Employee", "desk_access": 1}).insert(
				ignore_permissions=True
			)
		make_user(EMPLOYEE, ["CT Employee"])

	def test_erpnext_style_employee_is_a_customer(self):
		self.assertEqual(frappe.db.get_value("User", EMPLOYEE, "user_type"), "System User")
		case, first_id = self.new_case(sender=EMPLOYEE)
		self.set_status(case, "Resolved")
		self.customer_reply(case, in_reply_to=first_id)
		case.reload()
		self.assertEqual((case.status, case.reopen_count), ("Open", 1))

		self.set_status(case, "Closed")
		answer = self.customer_reply(case, in_reply_to=first_id)
		self.assertEqual(frappe.db.get_value("Case", answer.reference_name, "cloned_from"), case.name)

	def test_agent_roles_and_configured_addresses_are_internal(self):
		frappe.db.set_single_value("Case Threads Settings", "internal_addresses", "*@partner-i12.test")
		self.addCleanup(frappe.db.set_single_value, "Case Threads Settings", "internal_addresses", None)
		frappe.db.commit()
		case, first_id = self.new_case()
		self.set_status(case, "Resolved")
		for sender in (AGENT, "ops@partner-i12.test"):
			raw = build_mail("Re: internal", sender, in_reply_to=first_id)
			receive(self.mailbox, raw)
			self.assertEqual(communication_for(message_id_of(raw)).reference_name, case.name)
			case.reload()
			self.assertEqual((case.status, case.reopen_count), ("Resolved", 0), sender)


class TestTransferAndClone(LifecycleTestCase):
	def test_transfer_then_customer_reply_keeps_the_new_agent(self):
		frappe.db.set_single_value("Case Threads Settings", "sticky_agent", 1)
		self.addCleanup(frappe.db.set_single_value, "Case Threads Settings", "sticky_agent", 0)
		case, first_id = self.new_case()
		assign_to.add({"assign_to": [AGENT], "doctype": "Case", "name": case.name}, ignore_permissions=True)
		frappe.db.set_value("Case", case.name, "last_worked_by", AGENT)
		frappe.db.commit()

		api.transfer_case(case.name, agent=AGENT_2)
		self.customer_reply(case, in_reply_to=first_id)

		case.reload()
		self.assertEqual(case.get_assigned_users(), {AGENT_2})
		self.assertEqual(case.last_worked_by, AGENT_2)

	def test_clone_keeps_note_authors_and_times_and_starts_afresh(self):
		if not frappe.db.exists("Case Disposition", "CT i12 fixed"):
			frappe.get_doc(
				{"doctype": "Case Disposition", "disposition_name": "CT i12 fixed", "enabled": 1}
			).insert(ignore_permissions=True)
		case, first_id = self.new_case()
		self.agent_reply(case)
		frappe.set_user(AGENT)
		note = frappe.get_doc("Case", case.name).add_comment("Comment", "Agent Z: replaced the toner")
		frappe.set_user("Administrator")
		written = add_to_date(now_datetime(), days=-3).replace(microsecond=0)
		frappe.db.set_value("Comment", note.name, "creation", written, update_modified=False)
		file = attach_file(case.name)
		self.set_status(case, "Closed", disposition="CT i12 fixed")
		case.reload()
		self.assertTrue(case.first_responded_on and case.closed_on)

		answer = self.customer_reply(case, in_reply_to=first_id)
		clone = frappe.get_doc("Case", answer.reference_name)

		self.assertEqual(clone.cloned_from, case.name)
		copied = [n for n in notes(clone.name) if n.content == "Agent Z: replaced the toner"]
		self.assertEqual(len(copied), 1)
		self.assertEqual((copied[0].owner, get_datetime(copied[0].creation)), (AGENT, written))
		self.assertEqual(
			(clone.disposition, clone.resolved_on, clone.closed_on, clone.first_responded_on),
			(None, None, None, None),
		)
		self.assertIn(
			file.file_url,
			frappe.get_all(
				"File",
				filters={"attached_to_doctype": "Case", "attached_to_name": clone.name},
				pluck="file_url",
			),
		)


class TestOtherDoctype(LifecycleTestCase):
	def test_reply_threaded_onto_another_doctype_stays_there(self):
		todo = frappe.get_doc({"doctype": "ToDo", "description": unique("invoice follow-up")}).insert(
			ignore_permissions=True
		)
		customer = f"{unique('erp')}@customer.test"
		sent_id = f"{unique('inv')}@erp.test"
		frappe.get_doc(
			{
				"doctype": "Communication",
				"communication_type": "Communication",
				"communication_medium": "Email",
				"sent_or_received": "Sent",
				"subject": "Your invoice",
				"recipients": customer,
				"content": "Please find your invoice.",
				"reference_doctype": "ToDo",
				"reference_name": todo.name,
				"message_id": sent_id,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
		cases = frappe.db.count("Case")

		raw = build_mail("Re: Your invoice", customer, in_reply_to=f"<{sent_id}>")
		receive(self.mailbox, raw)

		reply = communication_for(message_id_of(raw))
		self.assertEqual((reply.reference_doctype, reply.reference_name), ("ToDo", todo.name))
		self.assertEqual(frappe.db.count("Case"), cases)
		self.assertFalse(frappe.db.exists("Unprocessed Email", {"communication": reply.name}))


class TestSmallFaults(LifecycleTestCase):
	def test_customer_reply_to_open_case_updates_modified(self):
		case, first_id = self.new_case()
		old = add_to_date(now_datetime(), hours=-2)
		frappe.db.set_value("Case", case.name, "modified", old, update_modified=False)
		frappe.db.commit()
		self.customer_reply(case, in_reply_to=first_id)
		self.assertGreater(
			get_datetime(frappe.db.get_value("Case", case.name, "modified")), old + timedelta(hours=1)
		)

	def test_open_to_replied_leaves_a_version(self):
		case, _ = self.new_case()
		self.agent_reply(case)
		self.assertEqual(frappe.db.get_value("Case", case.name, "status"), "Replied")
		changes = [
			json.loads(data).get("changed", [])
			for data in frappe.get_all(
				"Version", filters={"ref_doctype": "Case", "docname": case.name}, pluck="data"
			)
		]
		self.assertIn(["status", "Open", "Replied"], [list(c) for change in changes for c in change])

	def test_disabled_disposition_cannot_be_chosen(self):
		name = unique("CT i12 old")
		frappe.get_doc({"doctype": "Case Disposition", "disposition_name": name, "enabled": 0}).insert(
			ignore_permissions=True
		)
		case, _ = self.new_case()
		case.reload()
		case.status, case.disposition = "Resolved", name
		with self.assertRaisesRegex(frappe.ValidationError, "disabled"):
			case.save(ignore_permissions=True)

	def test_my_cases_shortcut_counts_the_users_open_cases(self):
		workspace = json.loads(
			(APP / "case_threads" / "workspace" / "case_threads" / "case_threads.json").read_text()
		)
		shortcut = next(s for s in workspace["shortcuts"] if s["label"] == "My Cases")
		# The desk evaluates stats_filter as a JavaScript expression (frappe.utils.process_filter_expression).
		expression = ast.parse(shortcut["stats_filter"], mode="eval")
		session = SimpleNamespace(session=SimpleNamespace(user=AGENT_2))
		filters = eval(compile(expression, "stats_filter", "eval"), {"frappe": session, "false": False})
		case, _ = self.new_case()
		assign_to.add({"assign_to": [AGENT_2], "doctype": "Case", "name": case.name}, ignore_permissions=True)
		mine = frappe.get_all(
			"Case",
			filters=[["_assign", "like", f"%{AGENT_2}%"], ["status", "in", ["Open", "Replied"]]],
			pluck="name",
		)
		counted = frappe.get_all("Case", filters=[f[:4] for f in filters], pluck="name")
		self.assertIn(case.name, counted)
		self.assertEqual(sorted(counted), sorted(mine))

	def test_connect_email_lists_the_same_subject_first(self):
		case, _ = self.new_case()
		# The same subject arrives first, so the newest-first order alone would list it last.
		same = self.unrouted(case.raised_by, subject=f"AW: Re: {case.subject}")
		other = self.unrouted(case.raised_by, subject="Something else entirely")
		frappe.db.set_value(
			"Communication", same.name, "communication_date", add_to_date(now_datetime(), hours=-1)
		)
		rows = api.unlinked_emails(case.name)
		self.assertEqual([r.name for r in rows][:1], [same.name])
		self.assertEqual(
			{r.name: r.same_subject for r in rows if r.name in (same.name, other.name)},
			{same.name: True, other.name: False},
		)
