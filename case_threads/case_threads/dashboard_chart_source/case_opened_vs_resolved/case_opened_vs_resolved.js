frappe.provide("frappe.dashboards.chart_sources");

frappe.dashboards.chart_sources["Case Opened vs Resolved"] = {
	method: "case_threads.dashboard.opened_vs_resolved",
	filters: [],
};
