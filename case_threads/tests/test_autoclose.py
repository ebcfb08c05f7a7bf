"""Cases that close themselves (issue 17, F25) on a real site: mail through Frappe's receive path,
time frozen at explicit instants, the daily job (case_threads.autoclose.run) run with an explicit now.

Settings in these tests: close Resolved after 7 days, resolve Replied after 3 days.
"""

from datetime import datetime

import frappe

from case_threads import autoclose
from case_threads.tests.parallel import run_at_once
from case_threads.tests.test_inbound import InboundTestCase


def at(day, hour, minute=0):
	return datetime(2026, 11, day, hour, minute)


RUN = at(20, 2)  # the nightly run: cutoffs Resolved ≤ Nov 13 02:00, Replied ≤ Nov 17 02:00


class AutoCloseTestCase(InboundTestCase):
	def setUp(self):
		self.saved = {
			key: frappe.db.get_single_value("Case Threads Settings", key)
			for key in (
				"auto_close_resolved_after_days",
				"auto_resolve_replied_after_days",
				"require_disposition_on_close",
				"require_disposition_on_resolve",
			)
		}
		self.configure(auto_close_resolved_after_days=7, auto_resolve_replied_after_days=3)

	def tearDown(self):
		self.configure(**self.saved)

	def configure(self, **values):
		settings = frappe.get_single("Case Threads Settings")
		settings.update(values)
		settings.save(ignore_permissions=True)
		frappe.db.commit()

	def case_at(self, when):
		with self.freeze_time(when):
			case, _ = self.new_case()
		return case

	def status_at(self, when, case, status):
		with self.freeze_time(when):
			case.reload()
			case.status = status
			case.save(ignore_permissions=True)
			frappe.db.commit()
		return case

	def reply_at(self, when, case):
		with self.freeze_time(when):
			self.agent_reply(case)
		return case

	def run_job(self, now=RUN):
		with self.freeze_time(now):
			return autoclose.run(now)

	def status(self, case):
		return frappe.db.get_value("Case", case.name, "status")

	def notes(self, case, text):
		return frappe.get_all(
			"Comment",
			filters={
				"reference_doctype": "Case",
				"reference_name": case.name,
				"content": ["like", f"%{text}%"],
			},
			pluck="content",
		)


class TestAutoClose(AutoCloseTestCase):
	def test_moves_exactly_the_quiet_cases_and_notes_them(self):
		quiet_resolved = self.status_at(at(6, 10), self.case_at(at(5, 10)), "Resolved")
		# Resolved one hour after the cutoff: the customer still has a few hours to answer.
		fresh_resolved = self.status_at(at(13, 3), self.case_at(at(5, 10)), "Resolved")
		quiet_replied = self.reply_at(at(16, 10), self.case_at(at(5, 10)))
		fresh_replied = self.reply_at(at(17, 9), self.case_at(at(5, 10)))
		old_open = self.case_at(at(1, 10))
		# Resolved long ago, but the customer wrote the same day as the run: reopened, so it stays.
		answered = self.status_at(at(2, 10), self.case_at(at(1, 10)), "Resolved")
		with self.freeze_time(at(20, 1)):
			self.customer_reply(answered, subject=f"Re: {answered.subject} [#{answered.thread_token}]")
		self.assertEqual(self.status(answered), "Open")
		self.assertEqual(self.status(quiet_replied), "Replied")

		self.run_job()

		self.assertEqual(self.status(quiet_resolved), "Closed")
		self.assertEqual(self.status(fresh_resolved), "Resolved")
		# Resolved by this run, so not closed by it (resolved_on is now).
		self.assertEqual(self.status(quiet_replied), "Resolved")
		self.assertEqual(frappe.db.get_value("Case", quiet_replied.name, "resolved_on"), RUN)
		self.assertEqual(frappe.db.get_value("Case", quiet_resolved.name, "closed_on"), RUN)
		self.assertEqual(self.status(fresh_replied), "Replied")
		self.assertEqual(self.status(old_open), "Open")
		self.assertEqual(self.status(answered), "Open")
		self.assertEqual(len(self.notes(quiet_resolved, "Closed automatically")), 1)
		self.assertEqual(len(self.notes(quiet_replied, "Resolved automatically")), 1)
		self.assertEqual(self.notes(answered, "automatically"), [])

		# A second run the same night finds nothing left to do for these cases.
		self.run_job()
		self.assertEqual(len(self.notes(quiet_resolved, "Closed automatically")), 1)
		self.assertEqual(self.status(quiet_replied), "Resolved")
		self.assertEqual(self.status(fresh_resolved), "Resolved")

		# Seven days after the auto-resolve, that case closes too.
		self.run_job(at(27, 2))
		self.assertEqual(self.status(quiet_replied), "Closed")

	def test_zero_days_turns_the_rules_off(self):
		self.configure(auto_close_resolved_after_days=0, auto_resolve_replied_after_days=0)
		resolved = self.status_at(at(2, 10), self.case_at(at(1, 10)), "Resolved")
		replied = self.reply_at(at(2, 10), self.case_at(at(1, 10)))
		self.run_job()
		self.assertEqual(self.status(resolved), "Resolved")
		self.assertEqual(self.status(replied), "Replied")

	def test_mail_after_the_job_read_the_case_keeps_it(self):
		case = self.status_at(at(2, 10), self.case_at(at(1, 10)), "Resolved")
		with self.freeze_time(RUN):
			rules = autoclose.rules()
			self.assertIn(case.name, autoclose.candidate_names("Resolved", RUN, rules, limit=100000))
			# The customer writes between the job's read and its lock.
			self.customer_reply(case, subject=f"Re: {case.subject} [#{case.thread_token}]")
			self.assertIsNone(autoclose.move_case(case.name, "Resolved", RUN, rules))
		self.assertEqual(self.status(case), "Open")
		self.assertEqual(self.notes(case, "automatically"), [])

	def test_required_disposition_does_not_stop_the_job(self):
		self.configure(require_disposition_on_close=1, require_disposition_on_resolve=1)
		with self.assertRaises(frappe.ValidationError):
			self.status_at(at(2, 10), self.case_at(at(1, 10)), "Closed")
		self.configure(require_disposition_on_close=0, require_disposition_on_resolve=0)
		case = self.status_at(at(2, 10), self.case_at(at(1, 10)), "Resolved")
		self.configure(require_disposition_on_close=1)
		self.run_job()
		self.assertEqual(self.status(case), "Closed")
		(note,) = self.notes(case, "Closed automatically")
		self.assertIn("No disposition was set.", note)


class TestAutoCloseAtOnce(AutoCloseTestCase):
	def test_two_workers_at_once_move_each_case_once(self):
		cases = [self.status_at(at(2, 10), self.case_at(at(1, 10)), "Resolved") for _ in range(3)]
		cases += [self.reply_at(at(2, 10), self.case_at(at(1, 10))) for _ in range(2)]
		# Both workers read the same candidates, then each waits a moment before every move.
		spans = run_at_once(
			self, autoclose.run, [(RUN,), (RUN,)], slow=("case_threads.autoclose", "move_case"), delay=0.5
		)
		# The two runs overlapped.
		self.assertLess(max(start for start, _ in spans), min(end for _, end in spans))
		for case in cases[:3]:
			self.assertEqual(self.status(case), "Closed")
			self.assertEqual(len(self.notes(case, "Closed automatically")), 1)
		for case in cases[3:]:
			self.assertEqual(self.status(case), "Resolved")
			self.assertEqual(len(self.notes(case, "Resolved automatically")), 1)
