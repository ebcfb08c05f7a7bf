frappe.listview_settings["Unprocessed Email"] = {
	add_fields: ["status", "reason"],
	// Deleted mail is kept for audit but hidden from the default view.
	filters: [["status", "=", "Unprocessed"]],
	get_indicator(doc) {
		const colors = { Unprocessed: "orange", Processed: "green", Deleted: "gray" };
		return [__(doc.status), colors[doc.status], "status,=," + doc.status];
	},
	onload(listview) {
		// Mail Frappe itself could not take in (Unhandled Email) is shown to those who can retry it.
		if (frappe.user.has_role(["Case Manager", "System Manager"])) {
			listview.page.add_inner_button(__("Unhandled Emails"), () => show_unhandled_emails());
		}
	},
};

function show_unhandled_emails() {
	const d = new frappe.ui.Dialog({
		title: __("Unhandled Emails"),
		size: "extra-large",
		fields: [{ fieldname: "list", fieldtype: "HTML" }],
	});
	const wrapper = d.fields_dict.list.$wrapper;
	const esc = (v) => frappe.utils.escape_html(v == null ? "" : String(v));
	const render = () =>
		frappe.call("case_threads.unhandled_api.unhandled_emails").then(({ message: rows }) => {
			if (!rows || !rows.length) {
				wrapper.html(`<p class="text-muted">${__("No Unhandled Emails.")}</p>`);
				return;
			}
			const cut = (v, n) => {
				const text = v == null ? "" : String(v);
				return text.length > n ? text.slice(0, n) + "…" : text;
			};
			const body = rows
				.map(
					(r) => `<tr>
						<td class="text-nowrap">
							<button class="btn btn-xs btn-primary" data-retry="${esc(r.name)}">${__(
								"Retry"
							)}</button>
							<a class="btn btn-xs btn-default" href="/app/unhandled-email/${encodeURIComponent(
								r.name
							)}">${__("Open")}</a>
						</td>
						<td>${esc(frappe.datetime.str_to_user(r.creation))}</td>
						<td>${esc(r.email_account)}</td>
						<td>${esc(cut(r.sender_name ? `${r.sender_name} <${r.sender}>` : r.sender, 80))}</td>
						<td title="${esc(r.subject)}">${esc(cut(r.subject, 120))}</td>
						<td title="${esc(r.reason)}"><small>${esc(cut(r.reason, 160))}</small></td>
					</tr>`
				)
				.join("");
			wrapper.html(`<table class="table table-sm" style="table-layout: fixed; word-break: break-word">
				<colgroup><col style="width: 9em"><col style="width: 9em"><col style="width: 10em">
					<col style="width: 16em"><col><col style="width: 20em"></colgroup>
				<thead><tr>
					<th></th><th>${__("Received On")}</th><th>${__("Mailbox")}</th><th>${__("Sender")}</th>
					<th>${__("Subject")}</th><th>${__("Reason")}</th>
				</tr></thead><tbody>${body}</tbody></table>`);
			wrapper.find("[data-retry]").on("click", (e) => {
				const name = e.currentTarget.dataset.retry;
				case_threads_retry_unhandled(name).then(render);
			});
		});
	d.show();
	render();
}

function case_threads_retry_unhandled(name) {
	return frappe
		.call({
			method: "case_threads.unhandled_api.retry_unhandled_email",
			args: { name },
			freeze: true,
		})
		.then(({ message }) => {
			frappe.show_alert({ message: message.message, indicator: "green" });
			cur_list && cur_list.refresh();
		});
}
