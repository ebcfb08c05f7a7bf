// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

frappe.ui.form.on("Case SLA Policy", {
	refresh(frm) {
		// The same list of timezones as the User form.
		frappe.call("frappe.core.doctype.user.user.get_timezones").then((r) => {
			frm.fields_dict.timezone.set_data(r.message.timezones);
		});
	},
});
