frappe.provide("frappe.dashboards.chart_sources");

frappe.dashboards.chart_sources["Case First Response Time"] = {
	method: "case_threads.dashboard.first_response_weekly",
	filters: [],
};
