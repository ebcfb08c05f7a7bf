// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

frappe.query_reports["Unprocessed Email Aging"] = {
	filters: [
		{ fieldname: "email_account", label: __("Mailbox"), fieldtype: "Link", options: "Email Account" },
	],
};
