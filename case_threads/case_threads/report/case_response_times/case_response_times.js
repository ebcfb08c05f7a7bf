// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

frappe.query_reports["Case Response Times"] = {
	filters: [
		{
			fieldname: "from_date",
			label: __("From Date"),
			fieldtype: "Date",
			default: frappe.datetime.add_days(frappe.datetime.get_today(), -30),
		},
		{
			fieldname: "to_date",
			label: __("To Date"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
		},
		{
			fieldname: "group_by",
			label: __("Group By"),
			fieldtype: "Select",
			options: ["Agent", "Queue", "Email Route", "Period"].map((value) => ({ value, label: __(value) })),
			default: "Agent",
		},
		{
			fieldname: "period",
			label: __("Period"),
			fieldtype: "Select",
			options: ["Day", "Week", "Month", "Year"].map((value) => ({ value, label: __(value) })),
			default: "Week",
			depends_on: "eval:doc.group_by == 'Period'",
		},
		{ fieldname: "queue", label: __("Queue"), fieldtype: "Link", options: "User Group" },
		{ fieldname: "email_route", label: __("Email Route"), fieldtype: "Link", options: "Email Route" },
	],
};
