// Copyright (c) 2026, case_threads developers and contributors
// License: MIT. See license.txt

frappe.ui.form.on("Case Disposition", {});
