// Shared by the Communication and Unprocessed Email forms: the "Create Case" dialog (F3, F11).
window.case_threads = window.case_threads || {};

case_threads.create_case_dialog = function (subject, create) {
	const d = new frappe.ui.Dialog({
		title: __("Create Case"),
		fields: [
			{ fieldname: "subject", fieldtype: "Data", label: __("Subject"), default: subject, reqd: 1 },
			{ fieldname: "queue", fieldtype: "Link", options: "User Group", label: __("Queue") },
			{
				fieldname: "priority",
				fieldtype: "Select",
				label: __("Priority"),
				options: ["", "Low", "Medium", "High", "Urgent"],
			},
			{ fieldname: "case_type", fieldtype: "Data", label: __("Type") },
		],
		primary_action_label: __("Create"),
		primary_action(values) {
			d.hide();
			create(values);
		},
	});
	d.show();
};
