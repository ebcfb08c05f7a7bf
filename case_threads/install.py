import frappe

ROLES = ("Case Agent", "Case Manager")
APP = "case_threads"
# Frappe's map of apps to their modules, cached in Redis per site and copied into frappe.local when
# the site is connected.
MODULE_MAP_KEYS = ("app_modules", "installed_app_modules", "module_app")


def refresh_module_map():
	"""Rebuild Frappe's app → module map when it does not know this app yet.

	A site whose map was cached before the app was in apps.txt (the ordinary `bench get-app` then
	`install-app` on a live site) keeps that map in Redis; install_app's clear_cache() drops the keys
	but not the copy already in frappe.local, and sync_for() then finds no module of ours: the app
	would install with no doctypes at all. Called before the install syncs and before every migrate.
	"""
	if APP in (frappe.local.app_modules or {}):
		return
	frappe.cache.delete_value(list(MODULE_MAP_KEYS))
	frappe.local.app_modules = frappe.local.module_app = None
	frappe.setup_module_map()


def before_install():
	refresh_module_map()
	# The doctypes' permissions name these roles, so they exist before the doctypes are synced.
	for role in ROLES:
		if not frappe.db.exists("Role", role):
			frappe.get_doc({"doctype": "Role", "role_name": role, "desk_access": 1}).insert(
				ignore_permissions=True
			)


def before_migrate():
	refresh_module_map()


def after_install():
	from case_threads.hard_mail_setup import setup as setup_hard_mail
	from case_threads.mail.acknowledge import install_templates
	from case_threads.settings import write_missing_defaults
	from case_threads.sla import ensure_default_policy

	sync_missing_doctypes()
	write_missing_defaults()
	setup_hard_mail()
	install_templates()
	ensure_default_policy()
	if "erpnext" in frappe.get_installed_apps():
		add_erpnext_fields()


def sync_missing_doctypes():
	"""Last guard: any doctype of the app still missing is synced from its JSON now."""
	from frappe.model.sync import get_doc_files
	from frappe.modules.import_file import import_file_by_path

	for module in frappe.local.app_modules.get(APP) or []:
		folder = frappe.get_module_path(module)
		for path in get_doc_files([], folder):
			doctype = frappe.get_file_json(path).get("name")
			if "/doctype/" in path and not frappe.db.exists("DocType", doctype):
				import_file_by_path(path, force=True, ignore_version=True, reset_permissions=True)


def ensure_indexes():
	"""Every doctype's on_doctype_update (its indexes), after every migrate: Frappe runs that hook
	only when a doctype's JSON changed, so an index added in code alone would never reach a site
	that already has the doctype. Each add is skipped when the index exists."""
	from frappe.modules.utils import load_doctype_module

	doctypes = frappe.get_all(
		"DocType",
		filters={"module": ("in", frappe.get_module_list(APP)), "custom": 0},
		fields=["name", "module"],
	)
	for doctype in doctypes:
		if hook := getattr(load_doctype_module(doctype.name, doctype.module), "on_doctype_update", None):
			hook()


def after_app_install(app_name):
	if app_name == "erpnext":
		add_erpnext_fields()


def add_erpnext_fields():
	"""Customer link on Case only where ERPNext exists, so ERPNext is never a dependency."""
	from frappe.custom.doctype.custom_field.custom_field import create_custom_fields

	create_custom_fields(
		{
			"Case": [
				{
					"fieldname": "customer",
					"fieldtype": "Link",
					"label": "Customer",
					"options": "Customer",
					"insert_after": "contact",
					"in_standard_filter": 1,
				}
			],
			"Email Route": [
				{
					"fieldname": "customer",
					"fieldtype": "Link",
					"label": "Customer",
					"options": "Customer",
					"insert_after": "case_type",
				}
			],
		},
		ignore_validate=True,
	)
