# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

from frappe.model.document import Document


class CaseSLAPriority(Document):
	pass
