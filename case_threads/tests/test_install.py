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


class TestSettingsDefaults(FrappeTestCase):
	"""A setting added after the Single was first saved gets its JSON default on migrate (not 0)."""

	def test_missing_settings_get_their_defaults_and_stored_ones_stay(self):
		from case_threads.settings import DOCTYPE, write_missing_defaults

		fields = ("auto_mail_per_day", "auto_mail_per_hour", "auto_close_resolved_after_days", "max_mail_mb")
		before = frappe.db.get_values_from_single(fields, None, DOCTYPE, as_dict=True)[0]

		def restore():
			for field in fields:
				frappe.db.set_single_value(DOCTYPE, field, before[field])
			frappe.db.commit()
			frappe.clear_document_cache(DOCTYPE, DOCTYPE)

		self.addCleanup(restore)
		settings = frappe.get_single(DOCTYPE)
		settings.auto_mail_per_day = 3  # chosen by an admin: stays
		settings.save()
		# As on a site made before these fields existed: no row at all.
		for field in ("auto_mail_per_hour", "auto_close_resolved_after_days", "max_mail_mb"):
			frappe.db.delete("Singles", {"doctype": DOCTYPE, "field": field})
		frappe.clear_document_cache(DOCTYPE, DOCTYPE)
		self.assertFalse(frappe.get_cached_doc(DOCTYPE).auto_mail_per_hour)

		write_missing_defaults()

		settings = frappe.get_cached_doc(DOCTYPE)
		self.assertEqual(
			(settings.auto_mail_per_hour, settings.auto_close_resolved_after_days, settings.max_mail_mb),
			(10, 7, 25),
		)
		self.assertEqual(settings.auto_mail_per_day, 3)
		self.assertIn("case_threads.settings.write_missing_defaults", frappe.get_hooks("after_migrate"))
