// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

frappe.ui.form.on("Case", {
	refresh(frm) {
		const link = (name) =>
			`<a href="/app/case/${encodeURIComponent(name)}">${frappe.utils.escape_html(name)}</a>`;
		if (frm.doc.cloned_to) {
			frm.dashboard.add_comment(__("This case was closed and continues in {0}.", [link(frm.doc.cloned_to)]), "blue", true);
		}
		if (frm.doc.cloned_from) {
			frm.dashboard.add_comment(__("Continues the closed case {0}.", [link(frm.doc.cloned_from)]), "blue", true);
		}
		if (frm.is_new()) return;
		frm.add_custom_button(__("Flag") + (frm.doc.flagged ? " ✓" : ""), () => frm.set_value("flagged", frm.doc.flagged ? 0 : 1).then(() => frm.save()));
		frm.add_custom_button(__("Connect Email"), () => case_threads_connect_email(frm), __("Case"));
		frm.add_custom_button(__("Case History"), () => case_threads_history(frm), __("Case"));
	},
});

function case_threads_connect_email(frm) {
	frappe.call("case_threads.api.unlinked_emails", { case: frm.doc.name }).then((r) => {
		const rows = r.message || [];
		if (!rows.length) {
			frappe.msgprint(__("This contact has no email that is not connected to a case."));
			return;
		}
		frappe.prompt(
			[
				{
					fieldname: "communication",
					fieldtype: "Select",
					label: __("Email"),
					reqd: 1,
					options: rows.map((e) => ({
						value: e.name,
						label: `${frappe.datetime.str_to_user(e.communication_date)} · ${e.subject || ""}`,
					})),
				},
			],
			(values) =>
				frappe
					.call("case_threads.api.connect_to_case", { communication: values.communication, case: frm.doc.name })
					.then((res) => {
						frappe.show_alert({ message: res.message.message, indicator: "green" });
						frm.reload_doc();
					}),
			__("Connect Email")
		);
	});
}

function case_threads_history(frm) {
	frappe
		.call("case_threads.api.case_history", { contact: frm.doc.contact, email: frm.doc.raised_by })
		.then((r) => {
			const esc = frappe.utils.escape_html;
			const rows = (r.message || [])
				.map(
					(c) => `<tr><td><a href="/app/case/${encodeURIComponent(c.name)}">${esc(c.name)}</a></td>
					<td>${esc(c.subject || "")}</td><td>${esc(__(c.status))}</td>
					<td>${frappe.datetime.str_to_user(c.creation)}</td></tr>`
				)
				.join("");
			frappe.msgprint(
				`<table class="table table-sm"><thead><tr><th>${__("Case")}</th><th>${__("Subject")}</th>
				<th>${__("Status")}</th><th>${__("Created")}</th></tr></thead><tbody>${rows}</tbody></table>`,
				__("Case History")
			);
		});
}
