// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

frappe.ui.form.on("Email Route", {
	refresh(frm) {
		frm.add_custom_button(__("Test Route"), () => {
			frappe.prompt(
				[
					{ fieldname: "address", fieldtype: "Data", label: __("To/Cc address"), default: frm.doc.address_pattern },
					{ fieldname: "raw", fieldtype: "Code", label: __("…or paste a raw email") },
					{ fieldname: "email_account", fieldtype: "Link", options: "Email Account", label: __("Mailbox"), default: frm.doc.email_account },
				],
				(values) =>
					frappe.call("case_threads.api.test_route", values).then((r) => {
						const m = r.message;
						const text = m.route
							? __("Route {0} takes it (address {1}).", [m.route, m.address])
							: __("No route takes it: {0}. It would wait in Unprocessed Email.", [__(m.reason)]);
						frappe.msgprint(frappe.utils.escape_html(text), __("Test Route"));
					}),
				__("Test Route"),
				__("Test")
			);
		});
	},
});
