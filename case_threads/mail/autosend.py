"""Loop protection for mail the app sends on its own (F22): the shell around
case_threads.core.autosend. Counts come from the database (the app's automatic mail is a
Communication of type "Automated Message"); a send held back is noted on the case's timeline.
"""

import frappe
from frappe import _
from frappe.utils import add_days, add_to_date, cint, now_datetime

from case_threads.core import MessageClass
from case_threads.core.autosend import (
	BOUNCED,
	DAILY_LIMIT,
	HOURLY_LIMIT,
	INTERNAL_USER,
	MACHINE_MAIL,
	NO_RECIPIENT,
	NOREPLY,
	OWN_MAILBOX,
	AutoSendFacts,
	Limits,
	autosend_block,
	dsn_blocks,
	failed_recipients,
)
from case_threads.mail.evidence import is_internal_user
from case_threads.mail.participants import own_addresses
from case_threads.settings import get_settings

AUTOMATED = "Automated Message"


def reason_text(reason):
	return {
		NO_RECIPIENT: _("there is no address to send it to"),
		MACHINE_MAIL: _("the email was an auto-reply, a bounce or bulk mail"),
		OWN_MAILBOX: _("the address is one of this site's own mailboxes"),
		NOREPLY: _("the address does not take replies (noreply, MAILER-DAEMON …)"),
		INTERNAL_USER: _("the address belongs to an internal user"),
		BOUNCED: _("mail to this address bounced recently"),
		HOURLY_LIMIT: _("the address already got the hourly maximum of automatic mails"),
		DAILY_LIMIT: _("the address already got the daily maximum of automatic mails"),
	}[reason]


def limits():
	settings = get_settings()
	hour, day = settings.get("auto_mail_per_hour"), settings.get("auto_mail_per_day")
	return Limits(per_hour=10 if hour is None else cint(hour), per_day=40 if day is None else cint(day))


def sent_since(address, since):
	return frappe.db.count(
		"Communication",
		{
			"communication_type": AUTOMATED,
			"sent_or_received": "Sent",
			"recipients": address,
			"creation": (">=", since),
		},
	)


def bounced_recently(address):
	days = get_settings().get("bounce_suppression_days")
	days = 30 if days is None else cint(days)
	if not days:
		return False
	communication = frappe.qb.DocType("Communication")
	rows = (
		frappe.qb.from_(communication)
		.select(communication.name)
		.where(communication.sent_or_received == "Sent")
		.where(communication.delivery_status == "Bounced")
		.where(communication.modified >= add_days(now_datetime(), -days))
		.where(communication.recipients.like(f"%{address}%"))
		.limit(1)
		.run()
	)
	return bool(rows)


def autosend_reason(address, message_class=MessageClass.HUMAN):
	"""None when an automatic mail to `address` may go out now, else the core's reason."""
	address = (address or "").strip().lower()
	now = now_datetime()
	facts = AutoSendFacts(
		recipient=address,
		message_class=message_class,
		own_addresses=frozenset(own_addresses()),
		is_internal=is_internal_user(address),
	)
	if reason := autosend_block(facts, limits()):
		return reason  # decided without counting
	facts = AutoSendFacts(
		recipient=address,
		sent_last_hour=sent_since(address, add_to_date(now, hours=-1)),
		sent_last_day=sent_since(address, add_to_date(now, days=-1)),
		bounced_recently=bounced_recently(address),
		own_addresses=facts.own_addresses,
	)
	return autosend_block(facts, limits())


def note_held_back(case, what, address, reason):
	case.add_note(
		_("{0} to {1} not sent: {2}.").format(what, address or _("(no address)"), reason_text(reason))
	)


def record_bounce(mail):
	"""A permanent bounce marks the app's sent emails to that address Bounced (Frappe's own
	delivery_status), which holds automatic mail back for bounce_suppression_days."""
	if mail is None:
		return
	headers = {k.lower(): str(v) for k, v in (mail.mail.items() if mail.mail else [])}
	for address in failed_recipients(headers, dsn_blocks(mail.mail)):
		communication = frappe.qb.DocType("Communication")
		names = (
			frappe.qb.from_(communication)
			.select(communication.name)
			.where(communication.sent_or_received == "Sent")
			.where(communication.recipients.like(f"%{address}%"))
			.orderby(communication.creation, order=frappe.qb.desc)
			.limit(1)
			.run(pluck=True)
		)
		for name in names:
			frappe.db.set_value("Communication", name, "delivery_status", "Bounced")
