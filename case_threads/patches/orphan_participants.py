"""Case Participant rows without a parent: a case made from an email wrote its first participant
once before its insert (no parent yet) and once with it (mail.participants.add_participants, fixed
in round 5). The rows without a parent belong to no case and are removed."""

import frappe


def execute():
	frappe.db.sql("delete from `tabCase Participant` where ifnull(`parent`, '') = ''")
