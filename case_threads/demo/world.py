"""The demo's users, mailbox, route and settings on a site; made once, repaired on every run."""

import frappe
from frappe.utils.password import update_password

from case_threads.case_threads.doctype.email_route.email_route import ROUTES_CACHE_KEY

MAILBOX = "support@acme.example"
ACCOUNT = "Acme Support"
QUEUE = "Demo Support"
ROUTE = "Demo: support@acme.example"
PASSWORD = "Demo-Case-Threads-1"
MANAGER = "manager@acme.example"
AGENTS = ("alice@acme.example", "bruno@acme.example")
USERS = {
	MANAGER: ("Maria", "Manager", ["Case Manager", "Inbox User"]),
	AGENTS[0]: ("Alice", "Agent", ["Case Agent", "Inbox User"]),
	AGENTS[1]: ("Bruno", "Agent", ["Case Agent", "Inbox User"]),
}
SETTINGS = {"token_placement": "Subject and Header", "subject_tag_format": "[#{token}]"}


def setup_world(imap, smtp, mailbox_password):
	"""Everything the demo mail needs, pointing at the running `imap` (Dovecot) and `smtp` capture.
	Returns the Email Account's name. Commits."""
	frappe.db.set_single_value("System Settings", "setup_complete", 1)  # no setup wizard
	settings = frappe.get_single("Case Threads Settings")
	settings.update(SETTINGS)
	settings.save(ignore_permissions=True)
	account = mailbox_account(imap, smtp, mailbox_password)
	for email, (first, last, roles) in USERS.items():
		demo_user(email, first, last, roles, account)
	if not frappe.db.exists("User Group", QUEUE):
		frappe.get_doc(
			{
				"doctype": "User Group",
				"__newname": QUEUE,
				"user_group_members": [{"user": user} for user in AGENTS],
			}
		).insert(ignore_permissions=True)
	if not frappe.db.exists("Email Route", ROUTE):
		frappe.get_doc(
			{
				"doctype": "Email Route",
				"route_name": ROUTE,
				"address_pattern": MAILBOX,
				"email_account": account,
				"sequence": 10,
				"queue": QUEUE,
				"priority": "Medium",
				"case_type": "Support",
			}
		).insert(ignore_permissions=True)
	frappe.db.set_value("Email Route", ROUTE, "enabled", 1)
	frappe.cache.delete_value(ROUTES_CACHE_KEY)
	frappe.db.commit()
	return account


def mailbox_account(imap, smtp, password):
	"""The support mailbox: pulls from Dovecot over IMAP and sends through the capture (no
	append_to: the app decides). Its ports change with every run, so they are set every time."""
	values = {
		"email_id": MAILBOX,
		"password": password,
		"enable_incoming": 1,
		"use_imap": 1,
		"email_server": imap.host,
		"incoming_port": imap.port,
		"use_ssl": 0,
		"use_starttls": 0,
		"email_sync_option": "UNSEEN",
		"enable_outgoing": 1,
		# The site's default sender, unless another account already is (as on the test site).
		"default_outgoing": 0
		if frappe.db.exists(
			"Email Account", {"default_outgoing": 1, "enable_outgoing": 1, "name": ("!=", ACCOUNT)}
		)
		else 1,
		"smtp_server": smtp.host,
		"smtp_port": smtp.port,
		"use_tls": 0,
		"use_ssl_for_outgoing": 0,
	}
	if frappe.db.exists("Email Account", ACCOUNT):
		doc = frappe.get_doc("Email Account", ACCOUNT)
		doc.update(values)
		doc.save(ignore_permissions=True)
	else:
		doc = frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": ACCOUNT,
				"imap_folder": [{"folder_name": "INBOX"}],
				**values,
			}
		)
		doc.insert(ignore_permissions=True)
	frappe.db.commit()
	return doc.name


def demo_user(email, first_name, last_name, roles, account):
	"""A desk user with `roles` and a User Emails row for the mailbox (Frappe's rule for seeing its mail)."""
	if not frappe.db.exists("User", email):
		frappe.get_doc(
			{
				"doctype": "User",
				"email": email,
				"first_name": first_name,
				"last_name": last_name,
				"send_welcome_email": 0,
				"user_type": "System User",
			}
		).insert(ignore_permissions=True)
	user = frappe.get_doc("User", email)
	user.add_roles(*roles)
	if account not in [row.email_account for row in user.user_emails]:
		user.append("user_emails", {"email_account": account})
	user.save(ignore_permissions=True)
	update_password(email, PASSWORD)


def disable(account=ACCOUNT):
	"""No enabled account is left pointing at servers that stop with the demo."""
	if frappe.db.exists("Email Account", account):
		frappe.db.set_value("Email Account", account, {"enable_incoming": 0, "enable_outgoing": 0})
		frappe.db.commit()


def forget_demo_mail(account=ACCOUNT):
	"""Remove what an earlier load of the demo mail made (cases of the demo queue and their mail),
	so that the same mail can be pulled again (the test does; `scripts/demo --reset` drops the site)."""
	cases = frappe.get_all("Case", filters={"queue": QUEUE}, pluck="name")
	# Inbound Mail Receipts too: a settled receipt makes the next pull skip the same mail (issue 18).
	for doctype in ("Unprocessed Email", "Unhandled Email", "Inbound Mail Receipt"):
		frappe.db.delete(doctype, {"email_account": account})
	frappe.db.delete("Communication", {"email_account": account})
	if cases:
		frappe.db.delete("Communication", {"reference_doctype": "Case", "reference_name": ("in", cases)})
		frappe.db.delete("Comment", {"reference_doctype": "Case", "reference_name": ("in", cases)})
		frappe.db.delete("Case", {"name": ("in", cases)})
	frappe.db.commit()
