"""The demo mail (demo/mail/*.eml) played as demo/plan.json says, and where each mail ended.

Every mail is delivered into the support mailbox's INBOX in Dovecot and pulled by Frappe's own
job (pull_from_email_account), as a real mailbox is. `{{tag:FILE}}` in a mail stands for the
subject tag of the case FILE made (the customer copied it from a reply); nothing else is changed.
"""

import json
import logging
import re
from email import message_from_bytes
from pathlib import Path

import frappe
from frappe.core.doctype.communication.email import make as make_communication

from case_threads.core.tokens import subject_tag
from case_threads.settings import tag_format
from case_threads.tests.scenario import last_errors, pull

DEMO = Path(__file__).resolve().parents[2] / "demo"
PLACEHOLDER = re.compile(rb"\{\{tag:([^}]+)\}\}")


def load_plan(folder=DEMO):
	with open(folder / "plan.json") as f:
		return json.load(f)


def message_id(raw):
	return (message_from_bytes(raw)["Message-ID"] or "").strip().strip("<>")


class Demo:
	"""Plays the plan on the connected site; `outcomes` holds, per mail file, where it ended."""

	def __init__(self, imap, account, mailbox, say=print, folder=DEMO, plan=None):
		self.imap, self.account, self.mailbox, self.say = imap, account, mailbox, say
		self.folder = folder
		self.plan = plan or load_plan(folder)
		self.outcomes = {}
		self.status_around = {}  # file → (case status before its pull, after)

	def run(self):
		for step in self.plan["steps"]:
			if "pull" in step:
				self.pull(step["pull"])
			elif "agent_reply" in step:
				self.agent_reply(self.case_of(step["agent_reply"]), step["agent"], step["text"])
			elif "set_status" in step:
				self.set_status(self.case_of(step["case_of"]), step["set_status"])
			else:
				raise ValueError(f"unknown step in plan.json: {step}")
		return self.outcomes

	def case_of(self, file):
		case = (self.outcomes.get(file) or {}).get("case")
		if not case:
			raise AssertionError(
				f"{file} made no case, which the next demo step needs: {self.outcomes.get(file)}"
			)
		return case

	def raw(self, file):
		data = (self.folder / "mail" / file).read_bytes()
		return PLACEHOLDER.sub(
			lambda m: subject_tag(self.token(m.group(1).decode()), tag_format()).encode(), data
		)

	def token(self, file):
		return frappe.db.get_value("Case", self.case_of(file), "thread_token")

	def pull(self, files):
		raws = {file: self.raw(file) for file in files}
		before = {file: self.status_of_expected_case(file) for file in files}
		for raw in raws.values():
			self.imap.deliver(self.mailbox, raw)
		pull(self.account)
		if self.imap.unseen(self.mailbox):
			raise AssertionError(
				f"Frappe did not fetch the demo mail over IMAP (errors: {last_errors(self.account)})"
			)
		for file, raw in raws.items():
			outcome = self.outcomes[file] = where(message_id(raw))
			if outcome.get("case"):
				self.status_around[file] = (
					before[file],
					frappe.db.get_value("Case", outcome["case"], "status"),
				)
			self.say(f"  {file:32} → {describe(outcome)}")

	def status_of_expected_case(self, file):
		expected = self.plan["expect"].get(file, {}).get("case_of")
		case = (self.outcomes.get(expected) or {}).get("case") if expected else None
		return frappe.db.get_value("Case", case, "status") if case else None

	def agent_reply(self, case_name, agent, text):
		"""An agent answers from the Case form's composer; the Email Queue sends it to the capture."""
		case = frappe.get_doc("Case", case_name)
		logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)  # Frappe's email CSS inliner is chatty
		testing_email = frappe.flags.testing_email
		frappe.flags.testing_email = True  # under run-tests Frappe would otherwise skip the SMTP call
		frappe.local.outgoing_email_account = {}
		user = frappe.session.user
		try:
			frappe.set_user(agent)
			result = make_communication(
				doctype="Case",
				name=case.name,
				content=text,
				subject=f"Re: {case.subject}",
				sender=self.mailbox,
				recipients=case.raised_by,
				send_email=1,
			)
			frappe.set_user(user)
			frappe.db.commit()
			for name in frappe.get_all(
				"Email Queue", filters={"communication": result["name"]}, pluck="name"
			):
				frappe.get_doc("Email Queue", name).send()  # what the scheduler's flush does
			frappe.db.commit()
		finally:
			frappe.set_user(user)
			frappe.flags.testing_email = testing_email
		self.say(f"  agent {agent} replied on {case.name} (sent over SMTP to the capture)")

	def set_status(self, case_name, status):
		case = frappe.get_doc("Case", case_name)
		case.status = status
		case.save(ignore_permissions=True)
		frappe.db.commit()
		self.say(f"  {case_name} set to {status}")


def where(message_id):
	"""Where the mail with this Message-ID ended: {"case"} or {"unprocessed", "reason"} or {"unhandled"}."""
	communication = frappe.db.get_value(
		"Communication",
		{"message_id": message_id, "sent_or_received": "Received"},
		["name", "reference_doctype", "reference_name"],
		as_dict=True,
	)
	if not communication:
		unhandled = frappe.db.exists("Unhandled Email", {"message_id": message_id})
		return {"unhandled": unhandled} if unhandled else {"missing": True}
	outcome = {"communication": communication.name}
	if communication.reference_doctype == "Case":
		outcome["case"] = communication.reference_name
	parked = frappe.db.get_value(
		"Unprocessed Email", {"communication": communication.name}, ["name", "reason", "status"], as_dict=True
	)
	if parked:
		outcome.update(unprocessed=parked.name, reason=parked.reason, unprocessed_status=parked.status)
	return outcome


def describe(outcome):
	if outcome.get("case"):
		case = frappe.db.get_value(
			"Case", outcome["case"], ["status", "cloned_from", "reopen_count"], as_dict=True
		)
		extra = f", clone of {case.cloned_from}" if case.cloned_from else ""
		extra += f", reopened {case.reopen_count}x" if case.reopen_count else ""
		return f"{outcome['case']} ({case.status}{extra})"
	if outcome.get("unprocessed"):
		return f"Unprocessed {outcome['unprocessed']} ({outcome['reason']})"
	if outcome.get("unhandled"):
		return f"Unhandled Email {outcome['unhandled']}"
	return "NOT FOUND"


def problems(demo):
	"""Every way the outcomes differ from plan.json's "expect" (empty when the demo did what it says)."""
	found = []
	outcomes, expect = demo.outcomes, demo.plan["expect"]
	new_cases = {}
	for file, want in expect.items():
		got = outcomes.get(file)
		if got is None:
			found.append(f"{file}: never pulled")
			continue
		case = got.get("case")
		fields = (
			frappe.db.get_value("Case", case, ["status", "cloned_from", "reopen_count"], as_dict=True)
			if case
			else None
		)

		def wrong(text, file=file, got=got):
			found.append(f"{file}: {text} (got {describe(got)})")

		if want.get("new_case"):
			if not case or fields.cloned_from or got.get("unprocessed"):
				wrong("expected a new case")
			elif case in new_cases:
				wrong(f"expected a new case, not the case of {new_cases[case]}")
			else:
				new_cases[case] = file
		if "case_of" in want:
			if not case or case != (outcomes.get(want["case_of"]) or {}).get("case"):
				wrong(f"expected the case of {want['case_of']}")
			elif (
				want.get("silent") and demo.status_around.get(file, (0, 1))[0] != demo.status_around[file][1]
			):
				wrong(f"expected its case's status untouched, went {demo.status_around[file]}")
			elif want.get("reopened") and not (fields.status == "Open" and fields.reopen_count):
				wrong("expected the case reopened")
		if "clone_of" in want:
			original = (outcomes.get(want["clone_of"]) or {}).get("case")
			if not case or not original or fields.cloned_from != original or fields.status != "Open":
				wrong(f"expected an open clone of the case of {want['clone_of']}")
		if "unprocessed" in want:
			if (
				case
				or got.get("reason") != want["unprocessed"]
				or got.get("unprocessed_status") != "Unprocessed"
			):
				wrong(f"expected to wait as Unprocessed ({want['unprocessed']})")
	return found
