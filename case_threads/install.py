import frappe

ROLES = ("Case Agent", "Case Manager")


def before_install():
	# The doctypes' permissions name these roles, so they exist before the doctypes are synced.
	for role in ROLES:
		if not frappe.db.exists("Role", role):
			frappe.get_doc({"doctype": "Role", "role_name": role, "desk_access": 1}).insert(
				ignore_permissions=True
			)


def after_install():
	from case_threads.sla import ensure_default_policy

	ensure_default_policy()
	if "erpnext" in frappe.get_installed_apps():
		add_erpnext_fields()


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
