// F12: active vs closed, My Cases, and the times agents sort by.
frappe.listview_settings["Case"] = {
	add_fields: ["status", "flagged", "priority", "last_customer_update", "sla_due"],
	filters: [["status", "in", ["Open", "Replied"]]],
	get_indicator(doc) {
		const colors = { Open: "red", Replied: "orange", Resolved: "green", Closed: "gray" };
		return [__(doc.status), colors[doc.status] || "gray", "status,=," + doc.status];
	},
	onload(listview) {
		const show = (filters) => listview.filter_area.clear(false).then(() => listview.filter_area.add(filters));
		listview.page.add_inner_button(__("My Cases"), () =>
			show([
				["Case", "_assign", "like", `%${frappe.session.user}%`],
				["Case", "status", "in", ["Open", "Replied"]],
			])
		);
		listview.page.add_inner_button(__("Active"), () => show([["Case", "status", "in", ["Open", "Replied"]]]));
		listview.page.add_inner_button(__("Closed"), () => show([["Case", "status", "in", ["Resolved", "Closed"]]]));
		listview.page.add_inner_button(__("Flagged"), () => show([["Case", "flagged", "=", 1]]));
	},
};
