"""scripts/demo's own steps (issue 16): the demo mail, pulled by Frappe's IMAP job from a real
Dovecot as demo/plan.json says, ends where the plan says, and a demo agent sees it in the desk."""

import contextlib
import secrets

import frappe
from frappe.tests.utils import FrappeTestCase

from case_threads.demo import world
from case_threads.demo.mail import DEMO, Demo, problems
from case_threads.tests.browser_utils import launch_browser, screenshot_dir
from case_threads.tests.demo_desk import check_demo_desk, demo_facts
from case_threads.tests.live_server import live_server
from case_threads.tests.mail_servers import dovecot, smtp_capture
from case_threads.tests.scenario import pull


class TestDemo(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.stack = contextlib.ExitStack()
		password = secrets.token_urlsafe(12)
		users = {world.MAILBOX: password}
		cls.imap = cls.stack.enter_context(dovecot(users))
		cls.smtp = cls.stack.enter_context(smtp_capture(users))
		# The same mail is pulled on every run: what an earlier run made goes first.
		world.forget_demo_mail()
		cls.account = world.setup_world(cls.imap, cls.smtp, password)
		pull(cls.account)
		cls.lines = []
		cls.demo = Demo(cls.imap, cls.account, world.MAILBOX, say=cls.lines.append)
		cls.demo.run()

	@classmethod
	def tearDownClass(cls):
		world.disable(cls.account)
		cls.stack.close()
		super().tearDownClass()

	def test_every_demo_mail_ends_where_the_plan_says(self):
		self.assertEqual(problems(self.demo), [], "\n".join(self.lines))
		# The plan covers every mail the project ships, and each was pulled over IMAP.
		files = sorted(p.name for p in (DEMO / "mail").glob("*.eml"))
		self.assertEqual(sorted(self.demo.plan["expect"]), files)
		self.assertEqual(sorted(self.demo.outcomes), files)
		for file, outcome in self.demo.outcomes.items():
			self.assertTrue(
				frappe.db.get_value("Communication", outcome.get("communication"), "uid"),
				f"{file} not pulled",
			)

	def test_the_demo_shows_a_reopen_a_clone_and_the_unprocessed_queue(self):
		outcome = self.demo.outcomes
		facts = demo_facts(self.account)
		self.assertEqual(len(facts["cases"]), 5)  # four new requests and one clone
		self.assertEqual(facts["reopened"], [outcome["04-en-new-vpn.eml"]["case"]])
		self.assertEqual(
			facts["clones"],
			[(outcome["13-fr-reply-to-closed.eml"]["case"], outcome["03-fr-new-livraison.eml"]["case"])],
		)
		self.assertEqual(facts["unprocessed"], 3)
		reasons = sorted(o["reason"] for o in outcome.values() if o.get("unprocessed"))
		self.assertEqual(reasons, ["Bounce", "No Route", "Only Bcc"])
		# The agent's reply left over SMTP, tagged with the case's token.
		token = frappe.db.get_value("Case", outcome["01-en-new-printer.eml"]["case"], "thread_token")
		self.assertEqual(len(self.smtp.messages), 1)
		self.assertIn(f"[#{token}]", str(self.smtp.messages[0]["Subject"]))

	def test_a_demo_agent_sees_it_in_the_desk(self):
		playwright, browser = launch_browser()
		try:
			with live_server(frappe.local.site) as url:
				errors = check_demo_desk(browser, url, demo_facts(self.account), screenshot_dir() / "demo")
		finally:
			browser.close()
			playwright.stop()
		self.assertEqual(errors, [])
