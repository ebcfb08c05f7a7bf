// F12: active vs closed, My Cases, and the times agents sort by.
frappe.listview_settings["Case"] = {
	add_fields: [
		"status",
		"flagged",
		"priority",
		"last_customer_update",
		"sla_due",
		"agreement_status",
		"response_by",
		"resolution_by",
	],
	filters: [["status", "in", ["Open", "Replied"]]],
	get_indicator(doc) {
		// F23: the service level first (overdue, due soon, paused, fulfilled), else the status.
		const sla = case_threads_sla_indicator(doc);
		if (sla) return sla;
		const colors = { Open: "red", Replied: "orange", Resolved: "green", Closed: "gray" };
		return [__(doc.status), colors[doc.status] || "gray", "status,=," + doc.status];
	},
	formatters: {
		// F12/F23: next to the last customer update, the SLA age (working time the customer has
		// waited on us), filled in by refresh() below from the server (working hours need the policy).
		last_customer_update(value, df, doc) {
			const when = value ? frappe.datetime.comment_when(value, true) : "";
			return `${when} <span class="ct-sla-age text-muted" data-case="${frappe.utils.escape_html(doc.name)}"></span>`;
		},
	},
	refresh(listview) {
		const names = (listview.data || []).map((d) => d.name);
		if (!names.length) return;
		frappe.call({ method: "case_threads.sla.sla_ages", args: { names }, type: "POST" }).then((r) => {
			const ages = r.message || {};
			listview.$result.find(".ct-sla-age").each(function () {
				const age = ages[this.dataset.case];
				this.textContent = age == null ? "" : `· ${__("SLA age")} ${case_threads_duration(age)}`;
			});
		});
	},
	onload(listview) {
		const show = (filters) => listview.filter_area.clear(false).then(() => listview.filter_area.add(filters));
		listview.page.add_inner_button(__("My Cases"), () =>
			show([
				["Case", "_assign", "like", `%${frappe.session.user}%`],
				["Case", "status", "in", ["Open", "Replied"]],
			])
		);
		listview.page.add_inner_button(__("Active"), () =>
			// F12/F23: the Active view in Relevance order (overdue, soonest due, longest waiting).
			show([["Case", "status", "in", ["Open", "Replied"]]]).then(() => {
				listview.sort_selector.set_value("relevance_key", "asc");
				listview.refresh();
			})
		);
		listview.page.add_inner_button(__("Overdue"), () =>
			show([
				["Case", "status", "in", ["Open", "Replied"]],
				// "is set" first: Frappe compares an empty date as the smallest one.
				["Case", "sla_due", "is", "set"],
				["Case", "sla_due", "<", frappe.datetime.now_datetime()],
			])
		);
		listview.page.add_inner_button(__("Due Today"), () =>
			show([
				["Case", "status", "in", ["Open", "Replied"]],
				["Case", "sla_due", "Timespan", "today"],
			])
		);
		listview.page.add_inner_button(__("Closed"), () => show([["Case", "status", "in", ["Resolved", "Closed"]]]));
		listview.page.add_inner_button(__("Flagged"), () => show([["Case", "flagged", "=", 1]]));
	},
};

// Due soon: less than an hour of wall time left.
const CASE_THREADS_DUE_SOON = 60 * 60 * 1000;

function case_threads_sla_indicator(doc) {
	const status = doc.agreement_status;
	if (!status) return null;
	if (["Resolved", "Closed"].includes(doc.status)) {
		if (status === "Fulfilled") return [__("Fulfilled"), "green", "agreement_status,=,Fulfilled"];
		if (status === "Failed") return [__("Failed"), "red", "agreement_status,=,Failed"];
		return null;
	}
	if (status === "Failed") return [__("Overdue"), "red", "agreement_status,=,Failed"];
	if (status === "Paused") return [__("Paused"), "blue", "agreement_status,=,Paused"];
	if (!doc.sla_due) return null;
	const left = moment.tz(doc.sla_due, frappe.boot.time_zone.system).valueOf() - Date.now();
	if (left < 0) return [__("Overdue"), "red", "sla_due,<," + frappe.datetime.now_datetime()];
	if (left < CASE_THREADS_DUE_SOON) return [__("Due Soon"), "orange", "agreement_status,=," + status];
	return [__(status), "yellow", "agreement_status,=," + status];
}

function case_threads_duration(seconds) {
	const d = Math.floor(seconds / 86400);
	const h = Math.floor((seconds % 86400) / 3600);
	const m = Math.floor((seconds % 3600) / 60);
	return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m`;
}
