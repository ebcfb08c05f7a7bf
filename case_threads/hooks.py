app_name = "case_threads"
app_title = "Case Threads"
app_publisher = "case_threads developers"
app_description = "Inbound email conversations as tracked Cases"
app_email = "dev@case-threads.invalid"
app_license = "MIT"

# Where inbound mail is decided: case_threads.mail.inbound (it calls case_threads.core.decide).
# Where outbound mail gets its thread token: case_threads.mail.outbound.

before_install = "case_threads.install.before_install"
after_install = "case_threads.install.after_install"
after_migrate = [
	"case_threads.install.ensure_indexes",
	"case_threads.settings.write_missing_defaults",
	"case_threads.mail.acknowledge.install_templates",
]
after_app_install = "case_threads.install.after_app_install"
before_migrate = "case_threads.install.before_migrate"

# The smallest override that lets the app read the raw inbound message (References,
# Auto-Submitted, Precedence, Delivered-To, the full Subject): Frappe's Communication keeps
# none of them. It subclasses whichever Email Account class another app (e.g. Helpdesk)
# registered before ours, so their behaviour stays. See case_threads/mail/email_account.py.
override_doctype_class = {
	"Email Account": "case_threads.mail.email_account.CaseThreadsEmailAccount",
}

# Installed before Helpdesk, Frappe would use Helpdesk's Email Account class only: in every web
# request, background job (the scheduler's mail pull is one) and test run the app's mixin is
# layered over the class in effect. See case_threads/mail/email_account.py.
before_request = ["case_threads.mail.neighbour.layer_email_account"]
before_job = ["case_threads.mail.neighbour.layer_email_account"]
before_tests = "case_threads.mail.neighbour.layer_email_account"

doc_events = {
	"Communication": {
		"before_insert": [
			"case_threads.mail.inbound.before_insert",
			"case_threads.mail.outbound.before_insert",
		],
		"after_insert": "case_threads.mail.inbound.after_insert",
	},
	# The site's own addresses are cached (case_threads.mail.participants.own_addresses).
	"Email Account": {
		event: "case_threads.mail.participants.forget_own_addresses"
		for event in ("on_change", "on_trash", "after_rename")
	},
	"Email Queue": {
		"before_insert": ["case_threads.mail.outbound.email_queue_before_insert"],
		"after_insert": ["case_threads.mail.outbound.email_queue_after_insert"],
	},
}

doctype_js = {
	"Communication": ["public/js/case_dialog.js", "public/js/communication.js"],
	"Unprocessed Email": "public/js/case_dialog.js",
	"Unhandled Email": "public/js/unhandled_email.js",
	"Case": ["public/js/case_sla_form.js"],
}

# The Link search and search box for Case: words of the title through a FULLTEXT index.
standard_queries = {"Case": "case_threads.search.case_link_query"}

permission_query_conditions = {
	"Unprocessed Email": "case_threads.permissions.unprocessed_email_query",
	"Unhandled Email": "case_threads.mail.unhandled.unhandled_email_query",
}

has_permission = {
	"Unprocessed Email": "case_threads.permissions.unprocessed_email_has_permission",
	"Communication": "case_threads.permissions.communication_has_permission",
	"Unhandled Email": "case_threads.mail.unhandled.unhandled_email_has_permission",
}

scheduler_events = {
	"daily": [
		# Settled Inbound Mail Receipts (issue 18: no mail lost when a pull dies) are kept 90 days.
		"case_threads.mail.pull_ledger.forget_old",
		# Cases that close themselves (F25).
		"case_threads.autoclose.run",
	],
	# Service levels (F23): breaches become Failed and notify the assignee (case_threads.sla).
	"cron": {
		"*/5 * * * *": ["case_threads.sla.mark_breaches"],
	},
}
