frappe.listview_settings["Unprocessed Email"] = {
	add_fields: ["status", "reason"],
	// Deleted mail is kept for audit but hidden from the default view.
	filters: [["status", "=", "Unprocessed"]],
	get_indicator(doc) {
		const colors = { Unprocessed: "orange", Processed: "green", Deleted: "gray" };
		return [__(doc.status), colors[doc.status], "status,=," + doc.status];
	},
};
