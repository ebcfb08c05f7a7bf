// Buttons on the Communication form (F9). Issue 4 adds Create/Connect/Disconnect.
frappe.ui.form.on("Communication", {
	refresh(frm) {
		if (frm.doc.reference_doctype === "Case" && frm.doc.reference_name) {
			frm.add_custom_button(__("Open Case"), () =>
				frappe.set_route("Form", "Case", frm.doc.reference_name)
			);
		}
	},
});
