"""The product's mail story end to end, over real IMAP and SMTP (issue 5).

A Dovecot on 127.0.0.1 holds the mailboxes, Frappe's own pull job fetches them over IMAP, the
agent's reply leaves through Frappe's Email Queue over real SMTP to a capturing server, and the
customer answers from what was actually sent. Nothing of Frappe's mail code is replaced.

    scripts/scenario [--site SITE]          # prints one line per step, exit 1 on a mismatch

`run_scenario(say=print)` needs a connected site; it commits as it goes (the pull job does too),
uses addresses of a fresh domain each run and disables its Email Accounts and route at the end.
"""

import logging
import secrets
import sys
import time
from email import message_from_bytes

import frappe
from frappe.core.doctype.communication.email import make as make_communication
from frappe.email.doctype.email_account.email_account import pull_from_email_account

from case_threads import api
from case_threads.case_threads.doctype.email_route.email_route import ROUTES_CACHE_KEY
from case_threads.core import find_subject_token, token_from_message_id
from case_threads.settings import site_secret, tag_format
from case_threads.tests.mail_servers import check_available, dovecot, smtp_capture
from case_threads.tests.utils import build_mail

SETTINGS = {"token_placement": "Subject and Header", "subject_tag_format": "[#{token}]"}
DISPOSITION = "Scenario: answered"


def mailbox_account(imap, user, smtp=None):
	"""An Email Account pulling `user`'s INBOX from Dovecot (and sending through `smtp`), with no
	append_to: the app decides. Pulled once so that Frappe records the folder's UIDVALIDITY."""
	password = imap.users[user]
	doc = frappe.get_doc(
		{
			"doctype": "Email Account",
			"email_account_name": f"Mailbox {user}",
			"email_id": user,
			"password": password,
			"enable_incoming": 1,
			"use_imap": 1,
			"email_server": imap.host,
			"incoming_port": imap.port,
			"use_ssl": 0,
			"use_starttls": 0,
			"email_sync_option": "UNSEEN",
			"imap_folder": [{"folder_name": "INBOX"}],
			"enable_outgoing": 1 if smtp else 0,
			"smtp_server": smtp.host if smtp else None,
			"smtp_port": smtp.port if smtp else None,
			"use_tls": 0,
			"use_ssl_for_outgoing": 0,
		}
	)
	doc.insert(ignore_permissions=True)
	frappe.db.commit()
	pull(doc.name)
	if not frappe.db.get_value("IMAP Folder", {"parent": doc.name}, "uidvalidity"):
		raise AssertionError(f"{doc.name} could not log in to Dovecot: {last_errors(doc.name)}")
	return doc.name


def pull(account):
	"""What the scheduler's job does for one Email Account, committed as the job runner does."""
	pull_from_email_account(account)
	frappe.db.commit()


def last_errors(account, limit=3):
	rows = frappe.get_all(
		"Error Log",
		filters={"reference_name": account},
		fields=["method", "error"],
		order_by="creation desc",
		limit=limit,
	)
	return "; ".join(f"{r.method}: {(r.error or '').strip().splitlines()[-1:]}" for r in rows) or "none"


def ensure_disposition():
	if not frappe.db.exists("Case Disposition", DISPOSITION):
		frappe.get_doc({"doctype": "Case Disposition", "disposition_name": DISPOSITION, "enabled": 1}).insert(
			ignore_permissions=True
		)


class Scenario:
	def __init__(self, imap, smtp, domain, say):
		self.imap, self.smtp, self.domain, self.say = imap, smtp, domain, say
		self.tag = domain.split(".")[0]
		self.support, self.sales, self.intake = (f"{box}@{domain}" for box in ("support", "sales", "intake"))
		self.customer = f"ada.{self.tag}@customer.test"
		self.accounts = {}
		self.route = None
		self.old_settings = None
		self.steps = 0

	# -- world -----------------------------------------------------------------------------------

	def setup(self):
		settings = frappe.get_single("Case Threads Settings")
		self.old_settings = {key: settings.get(key) for key in SETTINGS}
		settings.update(SETTINGS)
		settings.save(ignore_permissions=True)
		ensure_disposition()
		self.queue = f"Scenario queue {self.tag}"
		frappe.get_doc(
			{
				"doctype": "User Group",
				"__newname": self.queue,
				"user_group_members": [{"user": "Administrator"}],
			}
		).insert(ignore_permissions=True)
		self.route = (
			frappe.get_doc(
				{
					"doctype": "Email Route",
					"route_name": f"Scenario {self.domain}",
					"address_pattern": self.support,
					"sequence": 10,
					"priority": "High",
					"queue": self.queue,
					"case_type": "Scenario",
				}
			)
			.insert(ignore_permissions=True)
			.name
		)
		frappe.db.commit()
		self.accounts[self.support] = mailbox_account(self.imap, self.support, self.smtp)
		self.accounts[self.sales] = mailbox_account(self.imap, self.sales)
		self.accounts[self.intake] = mailbox_account(self.imap, self.intake)
		self.say(
			f"setup: Dovecot on {self.imap.host}:{self.imap.port} ({', '.join(self.accounts)}), "
			f"SMTP capture on {self.smtp.host}:{self.smtp.port}, route {self.route} → "
			f"priority High, queue {self.queue}, type Scenario"
		)

	def teardown(self):
		# Leave no enabled account pointing at a server that is about to stop.
		for account in self.accounts.values():
			frappe.db.set_value("Email Account", account, {"enable_incoming": 0, "enable_outgoing": 0})
		if self.route:
			frappe.db.set_value("Email Route", self.route, "enabled", 0)
			frappe.cache.delete_value(ROUTES_CACHE_KEY)
		if self.old_settings:
			settings = frappe.get_single("Case Threads Settings")
			settings.update(self.old_settings)
			settings.save(ignore_permissions=True)
		frappe.db.commit()

	# -- helpers ---------------------------------------------------------------------------------

	def step(self, text):
		self.steps += 1
		self.say(f"[{self.steps}] {text}")

	def deliver_and_pull(self, raw, *mailboxes):
		"""Deliver `raw` into each mailbox's INBOX, let Frappe pull them in turn; the Communication."""
		for mailbox in mailboxes:
			self.imap.deliver(mailbox, raw)
		for mailbox in mailboxes:
			pull(self.accounts[mailbox])
			check(
				self.imap.unseen(mailbox) == 0,
				f"Frappe did not fetch {mailbox}'s mail over IMAP (errors: {last_errors(self.accounts[mailbox])})",
			)
		message_id = message_from_bytes(raw)["Message-ID"].strip("<>")
		names = frappe.get_all("Communication", filters={"message_id": message_id}, pluck="name")
		check(len(names) == 1, f"expected one Communication for <{message_id}>, found {len(names)}")
		communication = frappe.get_doc("Communication", names[0])
		check(
			communication.email_account == self.accounts[mailboxes[0]] and communication.uid,
			f"Communication {communication.name} was not pulled by {self.accounts[mailboxes[0]]}",
		)
		return communication

	def case(self, name):
		return frappe.get_doc("Case", name)

	def set_status(self, name, status):
		case = self.case(name)
		case.status = status
		case.disposition = DISPOSITION  # in case the settings require one on resolve/close (F15)
		case.save(ignore_permissions=True)
		frappe.db.commit()

	def agent_reply(self, case_name, text):
		"""The agent answers from the Case form's composer; the Email Queue sends it over SMTP."""
		case = self.case(case_name)
		testing_email = frappe.flags.testing_email
		frappe.flags.testing_email = True  # under run-tests Frappe would otherwise skip the SMTP call
		# Frappe caches the outgoing account per process (frappe.local); a request or job starts
		# without that cache, a long test process keeps an earlier test's default account in it.
		frappe.local.outgoing_email_account = {}
		try:
			result = make_communication(
				doctype="Case",
				name=case.name,
				content=text,
				subject=f"Re: {case.subject}",
				sender=self.support,
				recipients=case.raised_by,
				send_email=1,
			)
			frappe.db.commit()
			communication = frappe.get_doc("Communication", result["name"])
			queued = frappe.get_all(
				"Email Queue", filters={"communication": communication.name}, pluck="name"
			)
			check(queued, f"no Email Queue row for the agent's reply {communication.name}")
			for name in queued:
				frappe.get_doc("Email Queue", name).send()  # what the scheduler's flush does
			frappe.db.commit()
		finally:
			frappe.flags.testing_email = testing_email
		statuses = frappe.get_all("Email Queue", filters={"name": ("in", queued)}, pluck="status")
		check(set(statuses) == {"Sent"}, f"Email Queue {queued} ended as {statuses}")
		return communication, self.captured(communication.message_id)

	def threaded_reply(self, subject, message_id, body):
		"""The customer answers `message_id` from a client that keeps the thread headers."""
		return build_mail(
			f"Re: {subject}",
			self.customer,
			to=self.support,
			in_reply_to=message_id,
			references=message_id,
			body=body,
		)

	def captured(self, message_id, timeout=15):
		deadline = time.monotonic() + timeout
		while time.monotonic() < deadline:
			for message in self.smtp.messages:
				if (message["Message-ID"] or "").strip().strip("<>") == message_id:
					return message
			time.sleep(0.05)
		raise AssertionError(f"the SMTP capture never received <{message_id}>")

	# -- the story -------------------------------------------------------------------------------

	def run(self):
		started = time.monotonic()

		# 1. New customer mail → case with the route's defaults (F10).
		raw = build_mail("Printer on fire", f"Ada Lovelace <{self.customer}>", to=self.support)
		first = self.deliver_and_pull(raw, self.support)
		case = self.case(first.reference_name) if first.reference_doctype == "Case" else None
		check(case, f"customer mail {first.name} made no case")
		expected = {
			"status": "Open",
			"priority": "High",
			"queue": self.queue,
			"case_type": "Scenario",
			"raised_by": self.customer,
			"subject": "Printer on fire",
			"channel": "Email",
		}
		check_fields(case, expected)
		token = case.thread_token
		self.step(
			f"customer mail to {self.support} pulled over IMAP → {case.name} "
			f"(Open, priority High, queue {self.queue}, type Scenario, token {token})"
		)

		# 2. Agent reply from the desk composer → real SMTP, carrying the token (F4, F13).
		reply, sent = self.agent_reply(case.name, "We are sending a technician.")
		subject = str(sent["Subject"])  # decoded: the capture parses with the modern policy
		check(sent["To"] and self.customer in sent["To"], f"captured mail went to {sent['To']}")
		check(
			find_subject_token(subject, tag_format()) == token,
			f"captured subject {subject!r} lacks [#{token}]",
		)
		check(
			token_from_message_id(sent["Message-ID"], site_secret()) == token,
			f"captured Message-ID {sent['Message-ID']} does not carry a signed {token}",
		)
		check_fields(self.case(case.name), {"status": "Replied"})
		self.step(
			f"agent reply {reply.name} sent over SMTP to {self.customer}: subject {subject!r}, "
			f"signed Message-ID {sent['Message-ID']} → case Replied"
		)
		agent_message_id = str(sent["Message-ID"]).strip()

		# 3. The customer's client dropped In-Reply-To/References: the subject tag finds the case (F5).
		raw = build_mail(f"Re: {subject}", self.customer, to=self.support, body="Still smoking.")
		check(
			b"In-Reply-To" not in raw and b"References" not in raw, "the mail should carry no thread headers"
		)
		answer = self.deliver_and_pull(raw, self.support)
		check(answer.reference_name == case.name, f"headerless reply went to {answer.reference_name}")
		check_fields(self.case(case.name), {"status": "Open"})
		self.step(f"customer reply without thread headers, subject tag only → {case.name}, Open again")

		# 4. Auto-reply to a Resolved case attaches without reopening.
		self.set_status(case.name, "Resolved")
		reopens = self.case(case.name).reopen_count or 0
		raw = build_mail(
			f"Automatic reply: {subject}",
			self.customer,
			to=self.support,
			in_reply_to=agent_message_id,
			headers={"Auto-Submitted": "auto-replied"},
			body="I am out of office.",
		)
		auto = self.deliver_and_pull(raw, self.support)
		check(auto.reference_name == case.name, f"auto-reply went to {auto.reference_name!r}")
		check_fields(self.case(case.name), {"status": "Resolved", "reopen_count": reopens})
		self.step(
			f"{case.name} Resolved; auto-reply (Auto-Submitted: auto-replied) → attached, still Resolved"
		)

		# 5. A real reply reopens it (F7).
		raw = self.threaded_reply(subject, agent_message_id, "It is on fire again.")
		again = self.deliver_and_pull(raw, self.support)
		check(again.reference_name == case.name, f"reply to the resolved case went to {again.reference_name}")
		check_fields(self.case(case.name), {"status": "Open", "reopen_count": reopens + 1})
		self.step(f"customer reply to Resolved {case.name} → reopened (reopen count {reopens + 1})")

		# 6. Closed + internal note → a reply continues in a clone with the note (F8).
		note = f"Internal: the customer's printer is a model {self.tag}."
		self.case(case.name).add_comment("Comment", note)
		self.set_status(case.name, "Closed")
		raw = self.threaded_reply(subject, agent_message_id, "One more question.")
		late = self.deliver_and_pull(raw, self.support)
		clones = frappe.get_all("Case", filters={"cloned_from": case.name}, pluck="name")
		check(len(clones) == 1, f"expected one clone of {case.name}, found {clones}")
		clone = self.case(clones[0])
		check(
			late.reference_name == clone.name,
			f"the late reply went to {late.reference_name}, not {clone.name}",
		)
		check_fields(self.case(case.name), {"status": "Closed", "cloned_to": clone.name})
		check_fields(
			clone, {"status": "Open", **{k: expected[k] for k in ("priority", "queue", "case_type")}}
		)
		notes = frappe.get_all(
			"Comment",
			filters={"reference_doctype": "Case", "reference_name": clone.name, "comment_type": "Comment"},
			pluck="content",
		)
		check(
			any(note in (n or "") for n in notes),
			f"the internal note was not copied to {clone.name}: {notes}",
		)
		self.step(f"{case.name} Closed; reply → clone {clone.name} (Open, same fields, internal note copied)")

		# 7. Mail to an address no route covers → Unprocessed Email → a case by hand (F11).
		stranger = f"bob.{self.tag}@customer.test"
		raw = build_mail("Question about invoices", stranger, to=self.intake)
		lost = self.deliver_and_pull(raw, self.intake)
		check(not lost.reference_name, f"unrouted mail was attached to {lost.reference_name}")
		parked = frappe.get_all(
			"Unprocessed Email",
			filters={"communication": lost.name},
			fields=["name", "status", "reason", "email_account"],
		)
		check(
			len(parked) == 1 and parked[0].status == "Unprocessed" and parked[0].reason == "No Route",
			f"unrouted mail {lost.name} is not waiting as Unprocessed/No Route: {parked}",
		)
		made = api.unprocessed_create_case(name=parked[0].name, priority="Urgent")["case"]
		frappe.db.commit()
		check_fields(self.case(made), {"raised_by": stranger, "priority": "Urgent", "status": "Open"})
		check(
			frappe.db.get_value("Communication", lost.name, "reference_name") == made,
			f"{lost.name} not linked to {made}",
		)
		check(
			frappe.db.get_value("Unprocessed Email", parked[0].name, ["status", "case"])
			== ("Processed", made),
			f"{parked[0].name} not marked Processed for {made}",
		)
		self.step(
			f"mail to unrouted {self.intake} → {parked[0].name} (No Route); "
			f"unprocessed_create_case → {made} (Urgent), {parked[0].name} Processed"
		)

		# 8. One mail delivered to two mailboxes → one case (F5).
		cases_before = frappe.db.count("Case")
		raw = build_mail("Both of you", f"carol.{self.tag}@customer.test", to=self.support, cc=self.sales)
		both = self.deliver_and_pull(raw, self.support, self.sales)
		check(both.reference_name, "the mail to two mailboxes made no case")
		check(
			frappe.db.count("Case") == cases_before + 1,
			f"expected one new case, got {frappe.db.count('Case') - cases_before}",
		)
		self.step(
			f"one mail delivered to {self.support} and {self.sales}, both pulled → one case "
			f"{both.reference_name}, one Communication"
		)
		# Nothing went wrong quietly on the way (a failed pull only logs an error).
		accounts = list(self.accounts.values())
		errors = frappe.get_all("Error Log", filters={"reference_name": ("in", accounts)}, pluck="method")
		unhandled = frappe.db.count("Unhandled Email", {"email_account": ("in", accounts)})
		failed = frappe.db.count("Unprocessed Email", {"email_account": ("in", accounts), "reason": "Error"})
		check(
			not errors and not unhandled and not failed,
			f"errors on the way: Error Log {errors}, {unhandled} Unhandled Email, {failed} Unprocessed with an error",
		)
		self.outbound_steps()
		self.say(f"scenario passed: {self.steps} steps in {time.monotonic() - started:.1f}s")

	def flush(self, communication_name):
		"""What the scheduler's flush does for the Email Queue rows of one Communication."""
		queued = frappe.get_all("Email Queue", filters={"communication": communication_name}, pluck="name")
		check(queued, f"no Email Queue row for {communication_name}")
		testing_email = frappe.flags.testing_email
		frappe.flags.testing_email = True
		try:
			for name in queued:
				frappe.get_doc("Email Queue", name).send()
			frappe.db.commit()
		finally:
			frappe.flags.testing_email = testing_email
		return [self.captured(frappe.db.get_value("Email Queue", name, "message_id")) for name in queued]

	def envelope_from(self, message):
		return self.smtp.envelopes[self.smtp.messages.index(message)][0]

	def outbound_steps(self):
		"""Issue 10: the agent's side of the thread, over real SMTP."""
		frappe.local.outgoing_email_account = {}
		# 9. Reply from the customer's email form (reference Communication), no sender picked.
		customer = f"dora.{self.tag}@customer.test"
		raw = build_mail(
			"Scanner jammed", f"Dora <{customer}>", to=self.support, cc=f"eli.{self.tag}@customer.test"
		)
		first = self.deliver_and_pull(raw, self.support)
		case = self.case(first.reference_name)
		check_fields(case, {"email_account": self.accounts[self.support]})
		check(
			{p.email_id for p in case.participants} == {customer, f"eli.{self.tag}@customer.test"},
			f"participants of {case.name}: {[p.email_id for p in case.participants]}",
		)
		result = make_communication(
			doctype="Communication",
			name=first.name,
			content="Open the lid and pull gently.",
			subject=f"Re: {first.subject}",
			recipients=customer,
			send_email=1,
		)
		frappe.db.commit()
		reply = frappe.get_doc("Communication", result["name"])
		check(
			(reply.reference_doctype, reply.reference_name) == ("Case", case.name),
			f"reply from the email form is on {reply.reference_doctype} {reply.reference_name}",
		)
		(sent,) = self.flush(reply.name)
		check(sent["From"].addresses[0].addr_spec == self.support, f"From {sent['From']}")
		check(self.envelope_from(sent) == self.support, f"envelope from {self.envelope_from(sent)}")
		check(
			(sent["In-Reply-To"] or "").strip("<> ") == first.message_id, f"In-Reply-To {sent['In-Reply-To']}"
		)
		check(first.message_id in (sent["References"] or ""), f"References {sent['References']}")
		check(find_subject_token(str(sent["Subject"]), tag_format()) == case.thread_token, "no token")
		check_fields(self.case(case.name), {"status": "Replied"})
		check(self.case(case.name).first_responded_on, "first response not recorded")
		self.step(
			f"reply from the email form of {first.name} → on {case.name} (Replied, first response), "
			f"sent over SMTP From and envelope {self.support}, In-Reply-To the customer's mail"
		)

		# 10. The customer's answer keeps only In-Reply-To.
		raw = build_mail(
			f"Re: {first.subject}", customer, to=self.support, in_reply_to=str(sent["Message-ID"]).strip()
		)
		answer = self.deliver_and_pull(raw, self.support)
		check(answer.reference_name == case.name, f"In-Reply-To-only answer went to {answer.reference_name}")
		check_fields(self.case(case.name), {"status": "Open"})
		self.step(f"customer answer with only In-Reply-To → {case.name}, Open again")

		# 11. The route acknowledges new cases: exactly one, over SMTP, from the mailbox.
		frappe.db.set_value(
			"Email Route", self.route, {"acknowledge": 1, "acknowledgement_template": "Case Acknowledgement"}
		)
		frappe.cache.delete_value(ROUTES_CACHE_KEY)
		frappe.db.commit()
		newcomer = f"fred.{self.tag}@customer.test"
		fresh = self.deliver_and_pull(build_mail("Need a quote", newcomer, to=self.support), self.support)
		acks = frappe.get_all(
			"Communication",
			filters={"communication_type": "Automated Message", "reference_name": fresh.reference_name},
			pluck="name",
		)
		check(len(acks) == 1, f"expected one acknowledgement for {fresh.reference_name}, found {acks}")
		(ack,) = self.flush(acks[0])
		check(fresh.reference_name in str(ack["Subject"]), f"acknowledgement subject {ack['Subject']}")
		check(ack["Auto-Submitted"] == "auto-replied", f"Auto-Submitted {ack['Auto-Submitted']}")
		check(self.envelope_from(ack) == self.support, f"acknowledgement envelope {self.envelope_from(ack)}")
		ooo = self.deliver_and_pull(
			build_mail(
				"Out of office", newcomer, to=self.support, headers={"Auto-Submitted": "auto-replied"}
			),
			self.support,
		)
		check(not ooo.reference_name, f"out-of-office made or joined case {ooo.reference_name}")
		check(
			frappe.db.count(
				"Communication", {"communication_type": "Automated Message", "recipients": newcomer}
			)
			== 1,
			"the out-of-office was acknowledged",
		)
		self.step(
			f"route acknowledges: one acknowledgement for {fresh.reference_name} over SMTP "
			f"(subject {str(ack['Subject'])!r}, Auto-Submitted); an out-of-office → none"
		)


def check(condition, message):
	if not condition:
		raise AssertionError(message)


def check_fields(doc, expected):
	actual = {key: doc.get(key) for key in expected}
	wrong = {key: (actual[key], value) for key, value in expected.items() if actual[key] != value}
	check(not wrong, f"{doc.doctype} {doc.name}: (actual, expected) {wrong}")


def run_scenario(say=print):
	"""Walk the whole story on the connected site; AssertionError on the first mismatch."""
	check_available()
	# Frappe inlines its email CSS with cssutils, which logs every rule it does not know.
	logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
	domain = f"scn{secrets.token_hex(3)}.test"
	users = {f"{box}@{domain}": secrets.token_urlsafe(12) for box in ("support", "sales", "intake")}
	with dovecot(users) as imap, smtp_capture(users) as smtp:
		scenario = Scenario(imap, smtp, domain, say)
		try:
			scenario.setup()
			scenario.run()
		finally:
			frappe.db.rollback()
			scenario.teardown()
	return scenario.steps


def cli(site, sites_path="."):
	"""Entry point of scripts/scenario: 0 when the scenario passed."""
	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	try:
		run_scenario()
		return 0
	except AssertionError as e:
		print(f"SCENARIO FAILED: {e}", file=sys.stderr)
		return 1
	finally:
		frappe.destroy()
