"""The real-mail scenario (issue 5): Dovecot over IMAP in, the Email Queue over SMTP out."""

from frappe.tests.utils import FrappeTestCase

from case_threads.tests.mail_servers import require_mail_servers
from case_threads.tests.scenario import run_scenario


class TestMailScenario(FrappeTestCase):
	def test_scenario_over_real_imap_and_smtp(self):
		require_mail_servers()  # not a skip: without the servers this test would prove nothing
		lines = []
		steps = run_scenario(say=lines.append)
		print("\n".join(lines))
		self.assertEqual(steps, 11)
		self.assertTrue(lines[-1].startswith("scenario passed"), lines[-1])
