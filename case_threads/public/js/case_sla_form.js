// F23: the Case form shows, live, how long the customer has been waiting since their last email
// (the elapsed-time timer of a contact-centre email screen), and the service level's due time.
frappe.ui.form.on("Case", {
	refresh(frm) {
		case_threads_sla_timer(frm);
	},
});

function case_threads_sla_timer(frm) {
	clearInterval(frm.__case_threads_sla_timer);
	frm.$wrapper.find(".ct-waiting-timer").remove();
	const since = frm.doc.last_customer_update;
	if (frm.is_new() || frm.doc.status !== "Open" || !since) return;
	// Stored as the site's wall time: read it in that timezone, compare with the browser's clock.
	const started = moment.tz(since, frappe.boot.time_zone.system).valueOf();
	// A section of the form's dashboard (inside the form card; Frappe clears it on every refresh).
	const $timer = $(`<div class="ct-waiting-timer">
		<span>${__("Customer waiting for")}</span> <b class="ct-waiting-elapsed"></b>
		${frm.doc.sla_due ? `<span class="text-muted"> · ${__("SLA Due")}: ${frappe.datetime.str_to_user(frm.doc.sla_due)}</span>` : ""}
	</div>`);
	frm.dashboard.add_section($timer.prop("outerHTML"));
	frm.dashboard.show();
	const $shown = frm.$wrapper.find(".ct-waiting-timer");
	const tick = () => {
		const seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
		$shown.find(".ct-waiting-elapsed").text(case_threads_elapsed(seconds));
	};
	tick();
	frm.__case_threads_sla_timer = setInterval(tick, 1000);
}

function case_threads_elapsed(seconds) {
	const d = Math.floor(seconds / 86400);
	const h = Math.floor((seconds % 86400) / 3600);
	const m = Math.floor((seconds % 3600) / 60);
	const s = seconds % 60;
	const pad = (n) => String(n).padStart(2, "0");
	return (d ? `${d}d ` : "") + `${pad(h)}:${pad(m)}:${pad(s)}`;
}
