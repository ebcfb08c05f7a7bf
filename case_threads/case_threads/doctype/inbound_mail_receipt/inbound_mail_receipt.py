# Copyright (c) 2026, case_threads developers and contributors
# License: MIT. See license.txt

from frappe.model.document import Document


class InboundMailReceipt(Document):
	"""One pulled mail's attempts and whether its outcome committed (case_threads.mail.pull_ledger)."""
