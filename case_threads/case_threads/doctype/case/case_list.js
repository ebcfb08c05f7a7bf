frappe.listview_settings["Case"] = {
	add_fields: ["status", "flagged", "priority"],
	get_indicator(doc) {
		const colors = { Open: "red", Replied: "orange", Resolved: "green", Closed: "gray" };
		return [__(doc.status), colors[doc.status] || "gray", "status,=," + doc.status];
	},
};
