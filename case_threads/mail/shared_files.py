"""Files of one case reachable from another (F8 clone, F24 merge/split) without copying their content:
a File row on the other case that points at the same stored file."""

import frappe


def share_files(from_case, to_case, communications=()):
	"""Attach to `to_case` the files attached to `from_case` (and to the given emails of it)."""
	sources = [("Case", from_case), *(("Communication", name) for name in communications)]
	already = set(
		frappe.get_all(
			"File",
			filters={"attached_to_doctype": "Case", "attached_to_name": to_case},
			pluck="file_url",
		)
	)
	for doctype, name in sources:
		for row in frappe.get_all(
			"File",
			filters={"attached_to_doctype": doctype, "attached_to_name": name, "is_folder": 0},
			fields=["file_name", "file_url", "is_private", "file_size", "content_hash"],
		):
			if row.file_url in already:
				continue
			already.add(row.file_url)
			# The stored file exists already: only the row is new (File.insert would write the content
			# again and, on a rollback, delete the file on disk that the original still uses).
			file = frappe.new_doc("File")
			file.update(
				{
					"attached_to_doctype": "Case",
					"attached_to_name": to_case,
					"folder": "Home/Attachments",
					**row,
				}
			)
			file.set_new_name()
			file.set_user_and_timestamp()
			file.db_insert()
