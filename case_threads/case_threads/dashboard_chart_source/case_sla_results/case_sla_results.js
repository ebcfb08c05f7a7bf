frappe.provide("frappe.dashboards.chart_sources");

frappe.dashboards.chart_sources["Case SLA Results"] = {
	method: "case_threads.dashboard.sla_results_weekly",
	filters: [],
};
