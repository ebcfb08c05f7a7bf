// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

// Actions on an Unprocessed Email (F11): create a case, connect to a case, delete, create a route.
frappe.ui.form.on("Unprocessed Email", {
	refresh(frm) {
		if (frm.doc.communication) {
			frm.add_custom_button(__("Open Email"), () => frappe.set_route("Form", "Communication", frm.doc.communication));
		}
		if (frm.doc.case) {
			frm.add_custom_button(__("Open Case"), () => frappe.set_route("Form", "Case", frm.doc.case));
		}
		const call = (method, args) =>
			frappe.call("case_threads.api." + method, { name: frm.doc.name, ...args }).then((r) => {
				frappe.show_alert({ message: r.message.message, indicator: "green" });
				frm.reload_doc();
			});
		if (frm.doc.status === "Deleted") {
			frm.add_custom_button(__("Restore to Queue"), () => call("unprocessed_restore"));
		}
		if (frm.doc.status !== "Unprocessed") return;

		frm.add_custom_button(
			__("Create Case"),
			() => case_threads.create_case_dialog(frm.doc.subject, (values) => call("unprocessed_create_case", values)),
			__("Actions")
		);
		frm.add_custom_button(
			__("Connect to Case"),
			() => {
				frappe.prompt(
					[{ fieldname: "case", fieldtype: "Link", options: "Case", label: __("Case"), reqd: 1 }],
					(values) =>
						frappe.db.get_value("Case", values.case, "status").then((r) => {
							if (r.message.status === "Closed") {
								frappe.confirm(
									__("{0} is closed. Connecting continues it in a new case. Go on?", [values.case]),
									() => call("unprocessed_connect", { case: values.case, confirm_clone: 1 })
								);
							} else {
								call("unprocessed_connect", { case: values.case });
							}
						}),
					__("Connect to Case")
				);
			},
			__("Actions")
		);
		frm.add_custom_button(
			__("Delete (Spam)"),
			() => frappe.confirm(__("Mark this email as deleted? It stays for audit."), () => call("unprocessed_delete")),
			__("Actions")
		);
		frm.add_custom_button(
			__("Create Route for this Address"),
			() =>
				// The address the mail was sent to (its first To/Cc), not the mailbox that pulled it.
				frappe.db.get_value("Communication", frm.doc.communication, ["recipients", "cc"]).then((r) => {
					const values = r.message || {};
					const found = `${values.recipients || ""},${values.cc || ""}`.match(/[^\s<>,;"]+@[^\s<>,;"]+/);
					frappe.new_doc("Email Route", {
						address_pattern: (found ? found[0] : frm.doc.mailbox_address || "").toLowerCase(),
						email_account: frm.doc.email_account,
					});
				}),
			__("Actions")
		);
	},
});
