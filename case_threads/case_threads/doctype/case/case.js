// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

// F20/F21: the composer on a case leaves from the case's mailbox, and Reply All proposes its
// participants. The server applies the same rule (case_threads.mail.outbound) for every way of sending.
if (!frappe.views.CommunicationComposer.case_threads) {
	const Composer = frappe.views.CommunicationComposer;
	frappe.views.CommunicationComposer = class extends Composer {
		case_threads_defaults() {
			const frm = this.frm;
			return (frm && frm.doctype === "Case" && frm.doc.__onload && frm.doc.__onload.case_threads_composer) || null;
		}
		get_fields() {
			const fields = super.get_fields();
			const defaults = this.case_threads_defaults();
			if (defaults && defaults.sender && (this.user_email_accounts || []).includes(defaults.sender)) {
				this.sender = defaults.sender;
			}
			return fields;
		}
		async set_values() {
			await super.set_values();
			// Frappe may have put the default account's address there (its signature lookup).
			const defaults = this.case_threads_defaults();
			if (defaults && defaults.sender && (this.user_email_accounts || []).includes(defaults.sender)) {
				await this.dialog.set_value("sender", defaults.sender);
			}
		}
		setup_subject_and_recipients() {
			super.setup_subject_and_recipients();
			const defaults = this.case_threads_defaults();
			if (!defaults || !this.reply_all) return;
			const split = (value) => (value || "").split(",").map((a) => a.trim().toLowerCase()).filter(Boolean);
			const present = new Set([...split(this.recipients), ...split(this.cc)]);
			const extra = (defaults.reply_all_cc || []).filter((a) => !present.has(a));
			if (extra.length) this.cc = [...split(this.cc), ...extra].join(", ");
		}
	};
	frappe.views.CommunicationComposer.case_threads = true;
}

frappe.ui.form.on("Case", {
	setup(frm) {
		// F15: a disabled disposition cannot be chosen any more.
		frm.set_query("disposition", () => ({ filters: { enabled: 1 } }));
		// F14: an email arrived on this case while it is open here.
		frappe.realtime.on("case_threads_new_email", (data) => {
			if (data.case === frm.doc.name) {
				frm.dashboard.set_headline_alert(
					__("Newer emails arrived on this case since you opened it. Reload to see them."),
					"orange"
				);
			}
		});
	},

	refresh(frm) {
		const link = (name) =>
			`<a href="/app/case/${encodeURIComponent(name)}">${frappe.utils.escape_html(name)}</a>`;
		if (frm.doc.cloned_to) {
			frm.dashboard.add_comment(__("This case was closed and continues in {0}.", [link(frm.doc.cloned_to)]), "blue", true);
		}
		if (frm.doc.merged_into) {
			frm.dashboard.add_comment(__("This case was merged into {0}.", [link(frm.doc.merged_into)]), "blue", true);
		}
		if (frm.doc.cloned_from) {
			frm.dashboard.add_comment(__("Continues the closed case {0}.", [link(frm.doc.cloned_from)]), "blue", true);
		}
		if (frm.is_new()) return;
		case_threads_header_lines(frm);
		frm.add_custom_button(frm.doc.flagged ? __("Unflag") : __("Flag"), () =>
			frm.set_value("flagged", frm.doc.flagged ? 0 : 1).then(() => frm.save())
		);
		frm.add_custom_button(__("Transfer"), () => case_threads_transfer(frm), __("Case"));
		frm.add_custom_button(__("Connect Email"), () => case_threads_connect_email(frm), __("Case"));
		frm.add_custom_button(__("Case History"), () => case_threads_history(frm), __("Case"));
		if (!frm.doc.merged_into) {
			frm.add_custom_button(__("Merge into…"), () => case_threads_merge(frm), __("Case"));
			frm.add_custom_button(__("Split…"), () => case_threads_split(frm), __("Case"));
		}
	},

	status(frm) {
		// F15: ask for the disposition when the settings require one for this status.
		if (!["Resolved", "Closed"].includes(frm.doc.status) || frm.doc.disposition) return;
		const setting = frm.doc.status === "Resolved" ? "require_disposition_on_resolve" : "require_disposition_on_close";
		frappe.db.get_single_value("Case Threads Settings", setting).then((required) => {
			if (!required) return;
			frappe.prompt(
				[
					{
						fieldname: "disposition",
						fieldtype: "Link",
						options: "Case Disposition",
						label: __("Disposition"),
						reqd: 1,
						get_query: () => ({ filters: { enabled: 1 } }),
					},
				],
				(values) => frm.set_value("disposition", values.disposition),
				__("Disposition required")
			);
		});
	},
});

function case_threads_transfer(frm) {
	frappe.prompt(
		[
			{ fieldname: "agent", fieldtype: "Link", options: "User", label: __("Agent") },
			{ fieldname: "queue", fieldtype: "Link", options: "User Group", label: __("Queue") },
		],
		(values) =>
			frappe.call("case_threads.api.transfer_case", { case: frm.doc.name, ...values }).then((r) => {
				frappe.show_alert({ message: r.message.message, indicator: "green" });
				frm.reload_doc();
			}),
		__("Transfer"),
		__("Transfer")
	);
}

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
						label: `${e.same_subject ? "★ " : ""}${frappe.datetime.str_to_user(e.communication_date)} · ${e.subject || ""}`,
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
	frappe.call("case_threads.api.case_history", { contact: frm.doc.contact, email: frm.doc.raised_by }).then((r) => {
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

// F24: merge this case (B) into another (A): its emails and notes move there, it closes.
function case_threads_merge(frm) {
	const dialog = new frappe.ui.Dialog({
		title: __("Merge {0} into another case", [frm.doc.name]),
		fields: [
			{
				fieldname: "target",
				fieldtype: "Link",
				options: "Case",
				label: __("Case to merge into"),
				reqd: 1,
				get_query: () => ({ filters: [["name", "!=", frm.doc.name], ["merged_into", "is", "not set"]] }),
			},
			{
				fieldtype: "HTML",
				options: `<p class="text-muted small">${__(
					"The emails and internal notes of this case move to the chosen case; this case is closed and its later mail goes there."
				)}</p>`,
			},
		],
		primary_action_label: __("Merge"),
		primary_action(values) {
			frappe
				.call("case_threads.api.merge_cases", { source: frm.doc.name, target: values.target })
				.then((r) => {
					dialog.hide();
					frappe.show_alert({ message: r.message.message, indicator: "green" });
					frappe.set_route("Form", "Case", r.message.case);
				});
		},
	});
	dialog.show();
}

// F24: split this case from one email onwards into a new case.
function case_threads_split(frm) {
	frappe
		.call("case_threads.api.case_emails", { case: frm.doc.name })
		.then((r) => {
			const rows = r.message || [];
			if (rows.length < 2) {
				frappe.msgprint(__("A case needs at least two emails to be split."));
				return;
			}
			frappe.prompt(
				[
					{
						fieldname: "communication",
						fieldtype: "Select",
						label: __("Split from this email onwards"),
						reqd: 1,
						options: rows.slice(1).map((e) => ({
							value: e.name,
							label: `${frappe.datetime.str_to_user(e.communication_date)} · ${e.sender || ""} · ${e.subject || ""}`,
						})),
					},
				],
				(values) =>
					frappe
						.call("case_threads.api.split_case", { case: frm.doc.name, communication: values.communication })
						.then((r) => {
							frappe.show_alert({ message: r.message.message, indicator: "green" });
							frappe.set_route("Form", "Case", r.message.case);
						}),
				__("Split Case"),
				__("Split")
			);
		});
}

// F2: every email on the timeline shows its header line (From with name and address, To, Cc,
// Subject, time) without opening it.
function case_threads_header_lines(frm) {
	const timeline = frm.timeline;
	if (!timeline || timeline.case_threads_headers) return;
	timeline.case_threads_headers = true;
	const original = timeline.get_communication_timeline_content.bind(timeline);
	timeline.get_communication_timeline_content = (doc, allow_reply) => {
		const sender = doc.sender;
		const sender_name = doc.sender_full_name;
		const content = original(doc, allow_reply);
		content.prepend(case_threads_header_line(doc, sender, sender_name));
		return content;
	};
	timeline.refresh();
}

function case_threads_header_line(doc, sender, sender_name) {
	const esc = frappe.utils.escape_html;
	const from = sender_name && sender_name !== sender ? `${sender_name} <${sender || ""}>` : sender || "";
	const parts = [
		[__("From"), from],
		[__("To"), doc.recipients],
		[__("Cc"), doc.cc],
		[__("Subject"), doc.subject],
		[__("Date"), doc.communication_date && frappe.datetime.str_to_user(doc.communication_date)],
	]
		.filter(([, value]) => value)
		.map(([label, value]) => `<span class="ct-email-header-part"><b>${esc(label)}:</b> ${esc(value)}</span>`);
	return `<div class="ct-email-header small text-muted" style="padding: 4px 12px; display: flex; flex-wrap: wrap; gap: 4px 16px;">${parts.join("")}</div>`;
}
