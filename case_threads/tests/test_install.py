"""Installing on a live site whose Redis app → module map predates the app (issue 12, "Good neighbour").

Frappe copies the map from Redis into frappe.local when it connects; install_app's clear_cache()
drops the Redis keys but not that copy, and sync_for() then syncs nothing of this app. The app's
before_install (and before_migrate) rebuilds the map. The end-to-end run on a fresh site is in
scripts/check-install-stale-map (README "Merge, split and the case lifecycle")."""

import frappe
from frappe.model.sync import get_doc_files
from frappe.tests.utils import FrappeTestCase

from case_threads import install

APP = "case_threads"


def doctypes_sync_for_would_import():
	"""The doctype names frappe.model.sync.sync_for(APP) would import with the map as it is now."""
	files = []
	for module in frappe.local.app_modules.get(APP) or []:
		folder = frappe.get_module_path(module)
		files = get_doc_files(files=files, start_path=folder)
	return {frappe.get_file_json(path)["name"] for path in files if "/doctype/" in path}


class TestStaleModuleMap(FrappeTestCase):
	def setUp(self):
		self.addCleanup(self.restore)

	def restore(self):
		frappe.cache.delete_value(list(install.MODULE_MAP_KEYS))
		frappe.local.app_modules = frappe.local.module_app = None
		frappe.setup_module_map()

	def poison(self):
		"""The map as a site made before the app was in apps.txt has it, in Redis and in frappe.local."""
		frappe.setup_module_map()
		stale = {app: modules for app, modules in frappe.local.app_modules.items() if app != APP}
		frappe.cache.set_value("app_modules", stale)
		frappe.local.app_modules = stale
		frappe.local.module_app = {m: app for app, modules in stale.items() for m in modules}

	def test_before_install_rebuilds_the_map_that_clear_cache_leaves_stale(self):
		self.poison()
		frappe.clear_cache()  # what install_app does first: not enough
		self.assertEqual(doctypes_sync_for_would_import(), set())

		install.before_install()

		expected = {"Case", "Case Disposition", "Case Threads Settings", "Email Route", "Unprocessed Email"}
		self.assertTrue(expected <= doctypes_sync_for_would_import())
		self.assertEqual(frappe.local.module_app.get("case_threads"), APP)

	def test_before_migrate_rebuilds_it_too(self):
		self.poison()
		install.before_migrate()
		self.assertIn("Case", doctypes_sync_for_would_import())

	def test_hooks_wire_both(self):
		hooks = frappe.get_hooks(app_name=APP)
		self.assertIn("case_threads.install.before_install", hooks.before_install)
		self.assertIn("case_threads.install.before_migrate", hooks.before_migrate)
