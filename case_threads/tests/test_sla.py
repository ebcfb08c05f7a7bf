"""Service levels on a real site (issue 11, F23): mail through Frappe's receive path, time frozen
with FrappeTestCase.freeze_time at explicit instants (site timezone), due times checked to the minute.

The shipped Default policy: Monday-Friday 09:00-17:00, first response 8 working hours, resolution
24 working hours (3 working days). December 2026: Tuesday 1st … Friday 4th, Monday 7th.
"""

import email
from datetime import datetime
from zoneinfo import ZoneInfo

import frappe
from frappe.desk.form.assign_to import add as assign
from frappe.utils import get_system_timezone

from case_threads import sla
from case_threads.core.working_time import naive
from case_threads.tests.test_inbound import InboundTestCase
from case_threads.tests.utils import build_mail, case_of, make_user, receive, unique

AGENT = "agent.sla@ct.test"
VIP = "vip-sla@ct.test"


def at(day, hour, minute=0):
	return datetime(2026, 12, day, hour, minute)


class SLATestCase(InboundTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		sla.ensure_default_policy()
		make_user(AGENT, ["Case Agent"])
		frappe.db.commit()

	def case_at(self, when, **kwargs):
		with self.freeze_time(when):
			case, message_id = self.new_case(**kwargs)
		return case, message_id

	def reply_at(self, when, case):
		with self.freeze_time(when):
			self.agent_reply(case)
		case.reload()
		return case

	def customer_at(self, when, case):
		with self.freeze_time(when):
			# The thread token in the subject finds the case (F5).
			communication = self.customer_reply(case, subject=f"Re: {case.subject} [#{case.thread_token}]")
		case.reload()
		return communication

	def status_at(self, when, case, status):
		with self.freeze_time(when):
			case.reload()
			case.status = status
			case.save(ignore_permissions=True)
			frappe.db.commit()
		case.reload()
		return case


class TestAgreement(SLATestCase):
	def test_new_case_gets_the_default_policy_and_its_due_times(self):
		case, _ = self.case_at(at(1, 10))
		self.assertEqual(case.service_level_agreement, sla.DEFAULT_POLICY)
		self.assertEqual(case.agreement_status, "First Response Due")
		self.assertEqual(case.response_by, at(2, 10))
		self.assertEqual(case.resolution_by, at(4, 10))
		self.assertEqual(case.sla_due, at(2, 10))
		# Mail on a Friday afternoon: the weekend does not count.
		friday, _ = self.case_at(at(4, 16))
		self.assertEqual(friday.response_by, at(7, 16))
		self.assertEqual(friday.resolution_by, at(9, 16))

	def test_agent_reply_fulfils_the_response_target(self):
		case, _ = self.case_at(at(1, 10))
		case = self.reply_at(at(1, 12), case)
		self.assertEqual(case.first_responded_on, at(1, 12))
		self.assertEqual(case.status, "Replied")
		self.assertEqual(case.agreement_status, "Paused")
		self.customer_at(at(1, 13), case)
		self.assertEqual(case.agreement_status, "Resolution Due")
		self.assertEqual(case.sla_due, case.resolution_by)
		# Past the response due time nothing fails: the response target was met.
		sla.mark_breaches(at(2, 11))
		case.reload()
		self.assertEqual(case.agreement_status, "Resolution Due")

	def test_stored_durations_are_the_working_time(self):
		# Case.first_response_time / resolution_time (issue 17), which the dashboard and reports read.
		# Opened Tuesday 16:00; answered Wednesday 10:00: 1 h Tuesday + 1 h Wednesday.
		case, _ = self.case_at(at(1, 16))
		self.assertIsNone(case.first_response_time)
		self.assertIsNone(case.resolution_time)
		case = self.reply_at(at(2, 10), case)
		self.assertEqual(case.first_response_time, 2 * 3600)
		# Resolved Friday 11:00: 1 h Tuesday, 8 h Wednesday and Thursday, 2 h Friday.
		case = self.status_at(at(4, 11), case, "Resolved")
		self.assertEqual(case.resolution_time, 19 * 3600)
		self.assertEqual(case.first_response_time, 2 * 3600)
		# Reopened: not resolved any more; resolved again Monday 10:00 (the weekend does not count).
		case = self.status_at(at(4, 12), case, "Open")
		self.assertIsNone(case.resolution_time)
		case = self.status_at(at(7, 10), case, "Resolved")
		self.assertEqual(case.resolution_time, 26 * 3600)
		# The backfill of existing cases (patch case_durations) writes the same figures.
		frappe.db.set_value(
			"Case", case.name, {"first_response_time": None, "resolution_time": None}, update_modified=False
		)
		self.assertEqual(sla.backfill_durations([case.name]), 1)
		case.reload()
		self.assertEqual((case.first_response_time, case.resolution_time), (2 * 3600, 26 * 3600))

	def test_replied_pauses_and_customer_reply_pushes_due_time_by_the_paused_working_time(self):
		case, _ = self.case_at(at(1, 10))
		case = self.reply_at(at(1, 12), case)
		self.assertEqual(case.agreement_status, "Paused")
		self.assertEqual(case.on_hold_since, at(1, 12))
		self.assertIsNone(case.sla_due)
		before = case.resolution_by
		self.customer_at(at(2, 11), case)
		# Paused Tuesday 12:00 → Wednesday 11:00: 5 working hours Tuesday, 2 on Wednesday.
		paused = sla.working_seconds_between(at(1, 12), at(2, 11), case)
		self.assertEqual(paused, 7 * 3600)
		self.assertEqual(case.status, "Open")
		self.assertEqual(case.agreement_status, "Resolution Due")
		self.assertEqual(before, at(4, 10))
		self.assertEqual(case.resolution_by, at(4, 17))
		self.assertEqual(case.total_hold_time, paused)
		self.assertIsNone(case.on_hold_since)
		self.assertEqual(case.sla_due, at(4, 17))

	def test_resolve_in_time_is_fulfilled_and_late_is_failed(self):
		# Waiting on the customer Tuesday 11:00-12:00 moves the resolution due time to Friday 11:00.
		case, _ = self.case_at(at(1, 10))
		self.reply_at(at(1, 11), case)
		self.customer_at(at(1, 12), case)
		self.assertEqual(case.resolution_by, at(4, 11))
		case = self.status_at(at(4, 11), case, "Resolved")
		self.assertEqual(case.agreement_status, "Fulfilled")
		self.assertIsNone(case.sla_due)

		late, _ = self.case_at(at(1, 10))
		self.reply_at(at(1, 11), late)
		self.customer_at(at(1, 12), late)
		late = self.status_at(at(4, 11, 1), late, "Resolved")
		self.assertEqual(late.agreement_status, "Failed")

	def test_reopen_continues_the_resolution_clock(self):
		case, _ = self.case_at(at(1, 10))
		self.reply_at(at(1, 11), case)
		self.customer_at(at(1, 12), case)  # an hour on hold: resolution due Friday 11:00
		case = self.status_at(at(2, 10), case, "Resolved")
		self.assertEqual(case.agreement_status, "Fulfilled")
		self.customer_at(at(3, 10), case)
		self.assertEqual(case.status, "Open")
		self.assertEqual(case.reopen_count, 1)
		self.assertEqual(case.agreement_status, "Resolution Due")
		# 8 working hours resolved (Wednesday 10:00 → Thursday 10:00) move Friday 11:00 to Monday 11:00.
		self.assertEqual(case.resolution_by, at(7, 11))
		self.assertEqual(case.total_hold_time, 9 * 3600)

	def test_a_clone_starts_a_fresh_agreement(self):
		case, _ = self.case_at(at(1, 10))
		self.reply_at(at(1, 11), case)
		case = self.status_at(at(2, 10), case, "Closed")
		self.assertEqual(case.agreement_status, "Fulfilled")
		self.customer_at(at(7, 10), case)
		self.assertTrue(case.cloned_to)
		clone = frappe.get_doc("Case", case.cloned_to)
		self.assertEqual(clone.service_level_agreement, sla.DEFAULT_POLICY)
		self.assertEqual(clone.agreement_status, "First Response Due")
		self.assertIsNone(clone.first_responded_on)
		self.assertFalse(clone.total_hold_time)
		self.assertEqual(clone.response_by, at(8, 10))
		self.assertEqual(clone.resolution_by, at(10, 10))
		# The original keeps its own result.
		self.assertEqual(case.agreement_status, "Fulfilled")


class TestBreach(SLATestCase):
	def notifications(self, case):
		return frappe.get_all(
			"Notification Log",
			filters={"document_type": "Case", "document_name": case.name, "for_user": AGENT, "type": "Alert"},
			pluck="subject",
		)

	def test_breach_is_marked_failed_and_the_assignee_notified_once(self):
		case, _ = self.case_at(at(1, 10))
		assign({"assign_to": [AGENT], "doctype": "Case", "name": case.name}, ignore_permissions=True)
		later, _ = self.case_at(at(2, 10, 30))
		frappe.db.commit()
		with self.freeze_time(at(2, 10, 1)):
			first = sla.mark_breaches()
			second = sla.mark_breaches()
		case.reload()
		self.assertIn(case.name, first)
		self.assertNotIn(case.name, second)
		self.assertEqual(case.agreement_status, "Failed")
		notes = self.notifications(case)
		self.assertEqual(len(notes), 1, notes)
		self.assertIn(case.name, notes[0])
		# A case not yet due is left alone.
		later.reload()
		self.assertEqual(later.agreement_status, "First Response Due")
		# A late reply does not make it good.
		case = self.reply_at(at(2, 11), case)
		self.assertEqual(case.agreement_status, "Failed")

	def test_paused_case_does_not_breach(self):
		case, _ = self.case_at(at(1, 10))
		self.reply_at(at(1, 11), case)
		sla.mark_breaches(at(20, 10))
		case.reload()
		self.assertEqual(case.agreement_status, "Paused")


class TestPolicyChoice(SLATestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		if not frappe.db.exists("Email Route", "CT SLA VIP"):
			frappe.get_doc(
				{"doctype": "Email Route", "route_name": "CT SLA VIP", "address_pattern": VIP, "sequence": 1}
			).insert(ignore_permissions=True)
		if not frappe.db.exists("Case SLA Policy", "CT VIP 1h"):
			frappe.get_doc(
				{
					"doctype": "Case SLA Policy",
					"policy_name": "CT VIP 1h",
					"email_route": "CT SLA VIP",
					"timezone": "Europe/Madrid",
					"priorities": [{"response_time": 3600, "resolution_time": 4 * 3600}],
					"working_hours": [
						{"weekday": d, "start_time": "08:00:00", "end_time": "20:00:00"}
						for d in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
					],
				}
			).insert(ignore_permissions=True)
		frappe.db.commit()

	def test_a_route_specific_policy_beats_the_default(self):
		# Saturday 05:30 in Madrid, before that policy's 08:00 opening; the site may be elsewhere.
		tz = get_system_timezone()
		madrid = ZoneInfo("Europe/Madrid")
		received = naive(datetime(2026, 12, 5, 5, 30, tzinfo=madrid), tz)
		with self.freeze_time(received):
			raw = build_mail(f"VIP help {unique('v')}", f"{unique('vip')}@customer.test", to=VIP)
			receive(self.mailbox, raw)
		case = frappe.get_doc("Case", case_of(email.message_from_bytes(raw)["Message-ID"]))
		self.assertEqual(case.email_route, "CT SLA VIP")
		self.assertEqual(case.service_level_agreement, "CT VIP 1h")
		self.assertEqual(case.response_by, naive(datetime(2026, 12, 5, 9, 0, tzinfo=madrid), tz))
		self.assertEqual(case.resolution_by, naive(datetime(2026, 12, 5, 12, 0, tzinfo=madrid), tz))
		# The same mail to the support address gets the default (Saturday: Monday's hours count).
		other, _ = self.case_at(received)
		self.assertEqual(other.service_level_agreement, sla.DEFAULT_POLICY)
		self.assertEqual(other.response_by, at(7, 17))

	def test_policy_cache_is_dropped_again_when_the_change_commits(self):
		"""Another worker may read the policies between our save and our commit and cache the old ones."""
		policy = frappe.get_doc("Case SLA Policy", sla.DEFAULT_POLICY)
		policy.save(ignore_permissions=True)
		frappe.cache.set_value(sla.POLICIES_CACHE_KEY, ["the policies another worker read before the commit"])
		frappe.db.commit()
		self.assertFalse(frappe.cache.exists(sla.POLICIES_CACHE_KEY))

	def test_priority_targets_and_one_default(self):
		policy = frappe.get_doc("Case SLA Policy", sla.DEFAULT_POLICY)
		self.assertEqual(policy.is_default, 1)
		duplicate = frappe.get_doc(
			{
				"doctype": "Case SLA Policy",
				"policy_name": unique("second default"),
				"is_default": 1,
				"priorities": [{"response_time": 60, "resolution_time": 60}],
				"working_hours": [{"weekday": "Monday", "start_time": "09:00:00", "end_time": "17:00:00"}],
			}
		)
		self.assertRaises(frappe.ValidationError, duplicate.insert, ignore_permissions=True)
