// Frappe's Unhandled Email: Retry runs the raw message through the receive path again (issue 20).
frappe.ui.form.on("Unhandled Email", {
	refresh(frm) {
		if (frm.is_new() || !frappe.user.has_role(["Case Manager", "System Manager"])) return;
		frm.add_custom_button(__("Retry"), () =>
			frappe
				.call({
					method: "case_threads.unhandled_api.retry_unhandled_email",
					args: { name: frm.doc.name },
					freeze: true,
				})
				.then(({ message }) => {
					frappe.show_alert({ message: message.message, indicator: "green" });
					frappe.set_route(
						message.case ? ["Form", "Case", message.case] : ["List", "Unprocessed Email"]
					);
				})
		);
	},
});
