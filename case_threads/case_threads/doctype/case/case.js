// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

frappe.ui.form.on("Case", {
	refresh(frm) {
		if (frm.doc.cloned_to) {
			frm.dashboard.add_comment(
				__("This case was closed and continued in {0}.", [
					`<a href="/app/case/${encodeURIComponent(frm.doc.cloned_to)}">${frappe.utils.escape_html(frm.doc.cloned_to)}</a>`,
				]),
				"blue",
				true
			);
		}
		if (frm.doc.cloned_from) {
			frm.dashboard.add_comment(
				__("Continues the closed case {0}.", [
					`<a href="/app/case/${encodeURIComponent(frm.doc.cloned_from)}">${frappe.utils.escape_html(frm.doc.cloned_from)}</a>`,
				]),
				"blue",
				true
			);
		}
	},
});
