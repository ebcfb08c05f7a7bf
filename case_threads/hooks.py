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
after_app_install = "case_threads.install.after_app_install"

# The smallest override that lets the app read the raw inbound message (References,
# Auto-Submitted, Precedence, Delivered-To, the full Subject): Frappe's Communication keeps
# none of them. It subclasses whichever Email Account class another app (e.g. Helpdesk)
# registered before ours, so their behaviour stays. See case_threads/mail/email_account.py.
override_doctype_class = {
	"Email Account": "case_threads.mail.email_account.CaseThreadsEmailAccount",
}

doc_events = {
	"Communication": {
		"before_insert": [
			"case_threads.mail.inbound.before_insert",
			"case_threads.mail.outbound.before_insert",
		],
		"after_insert": "case_threads.mail.inbound.after_insert",
	},
	"Email Queue": {
		"before_insert": "case_threads.mail.outbound.email_queue_before_insert",
	},
}

doctype_js = {
	"Communication": ["public/js/case_dialog.js", "public/js/communication.js"],
	"Unprocessed Email": "public/js/case_dialog.js",
	"Case": ["public/js/case_sla_form.js"],
}

permission_query_conditions = {
	"Unprocessed Email": "case_threads.permissions.unprocessed_email_query",
}

has_permission = {
	"Unprocessed Email": "case_threads.permissions.unprocessed_email_has_permission",
	"Communication": "case_threads.permissions.communication_has_permission",
}

# Service levels (F23): breaches become Failed and notify the assignee (case_threads.sla).
scheduler_events = {
	"cron": {
		"*/5 * * * *": ["case_threads.sla.mark_breaches"],
	},
	# Cases that close themselves (F25): case_threads.autoclose.
	"daily": ["case_threads.autoclose.run"],
}
