// Case buttons on the Communication form (F9): Create Case, Connect to Case, Disconnect, Open Case.
const CT_API = "case_threads.api.";

frappe.ui.form.on("Communication", {
	refresh(frm) {
		if (frm.is_new() || frm.doc.communication_type !== "Communication") return;
		const connected = frm.doc.reference_doctype === "Case" && frm.doc.reference_name;
		const group = __("Case");

		if (connected) {
			frm.add_custom_button(__("Open Case"), () => frappe.set_route("Form", "Case", frm.doc.reference_name), group);
			frm.add_custom_button(__("Disconnect from Case"), () => case_threads_disconnect(frm), group);
		} else {
			frm.add_custom_button(__("Create Case"), () => case_threads_create_case(frm), group);
		}
		frm.add_custom_button(__("Connect to Case"), () => case_threads_connect_dialog(frm), group);
	},
});

function case_threads_after(frm, r) {
	frappe.show_alert({ message: r.message.message, indicator: "green" });
	frm.reload_doc();
}

function case_threads_create_case(frm) {
	case_threads.create_case_dialog(frm.doc.subject, (values) =>
		frappe
			.call(CT_API + "create_case_from_email", { communication: frm.doc.name, ...values })
			.then((r) => case_threads_after(frm, r))
	);
}

function case_threads_disconnect(frm) {
	frappe.confirm(__("Disconnect this email from {0}?", [frm.doc.reference_name]), () =>
		frappe
			.call(CT_API + "disconnect_from_case", { communication: frm.doc.name })
			.then((r) => case_threads_after(frm, r))
	);
}

function case_threads_connect(frm, row) {
	const go = (confirm_clone) =>
		frappe
			.call(CT_API + "connect_to_case", { communication: frm.doc.name, case: row.name, confirm_clone })
			.then((r) => case_threads_after(frm, r));
	if (row.status === "Closed") {
		frappe.confirm(
			__("{0} is closed. Connecting continues it in a new case with the same fields and notes. Go on?", [row.name]),
			() => go(1)
		);
	} else {
		go(0);
	}
}

function case_threads_connect_dialog(frm) {
	const d = new frappe.ui.Dialog({
		title: __("Connect to Case"),
		size: "large",
		fields: [
			{ fieldname: "txt", fieldtype: "Data", label: __("Search by number or title") },
			{ fieldname: "history", fieldtype: "HTML" },
		],
	});
	const render = (rows) => {
		const esc = frappe.utils.escape_html;
		const body = rows.length
			? rows
					.map(
						(r, i) => `<tr>
					<td><a href="#" role="button" data-i="${i}" class="ct-pick"
						title="${__("Connect to this case")}">${esc(r.name)}</a></td>
					<td>${esc(r.subject || "")}</td>
					<td>${esc(__(r.status))}</td>
					<td>${frappe.datetime.str_to_user(r.creation)}</td>
					<td>${frappe.datetime.str_to_user(r.modified)}</td></tr>`
					)
					.join("")
			: `<tr><td colspan="5" class="text-muted">${__("No cases found")}</td></tr>`;
		d.fields_dict.history.$wrapper.html(`<table class="table table-sm ct-history">
			<thead><tr><th>${__("Case")}</th><th>${__("Subject")}</th><th>${__("Status")}</th>
			<th>${__("Created")}</th><th>${__("Updated")}</th></tr></thead><tbody>${body}</tbody></table>`);
		d.fields_dict.history.$wrapper.find(".ct-pick").on("click", (e) => {
			e.preventDefault();
			d.hide();
			case_threads_connect(frm, rows[$(e.currentTarget).data("i")]);
		});
	};
	const load = () =>
		frappe
			.call(CT_API + "case_history", {
				email: d.get_value("txt") ? null : frm.doc.sender,
				txt: d.get_value("txt"),
			})
			.then((r) => render(r.message || []));
	d.fields_dict.txt.$input.on("input", frappe.utils.debounce(load, 300));
	d.show();
	load();
}
