"""Human mail, or an auto-reply, bounce, bulk or spam mail that must never reopen, clone or be answered."""

import re
from enum import Enum

from case_threads.core.parsing import Message


class MessageClass(str, Enum):
	HUMAN = "human"
	AUTO_REPLY = "auto_reply"
	BOUNCE = "bounce"
	BULK = "bulk"
	SPAM = "spam"


DAEMON_RE = re.compile(
	r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounces?|mdaemon)@", re.IGNORECASE
)
DAEMON_NAME_RE = re.compile(
	r"^\s*(mailer-daemon|postmaster|mail delivery (subsystem|system|service))", re.IGNORECASE
)
# Subjects only a mail server writes; enough on their own when the mail is not a reply or forward.
SERVER_SUBJECT_RE = re.compile(
	r"^(undeliverable|undelivered mail|mail could not be delivered|delivery status notification|"
	r"mail delivery failed|returned mail|failure notice|delivery failure)",
	re.IGNORECASE,
)
BOUNCE_SUBJECT_RE = re.compile(
	r"(undeliver|undelivered|delivery (status notification|failure|has failed|problem)|"
	r"returned mail|mail delivery (failed|failure|system)|failure notice|non[- ]?delivery|"
	r"could not be delivered|delivery notification|rejected|unzustellbar|nicht zustellbar|"
	r"non remis|no se pudo entregar|mail system error|warning: message|delayed mail|"
	r"message not delivered|returned to sender|delivery report)",
	re.IGNORECASE,
)
AUTO_SUBJECT_RE = re.compile(
	r"(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|^auto:|"
	r"abwesenheitsnotiz|automatische antwort|réponse automatique|absence|respuesta automática|"
	r"fuera de la oficina|risposta automatica|fuori sede|automatisch antwoord|afwezig|"
	r"自动回复|自動回覆|自動応答|vacation|on vacation|away from (the )?office|read:|lu :|gelesen:)",
	re.IGNORECASE,
)
BOUNCE_PARTS = {"message/delivery-status", "message/global-delivery-status", "message/feedback-report"}
LIST_PRECEDENCE = {"bulk", "list", "junk"}
# The receiving mail server's verdict: SpamAssassin's X-Spam-Flag: YES / X-Spam-Status: Yes, score=…,
# rspamd's X-Spam: Yes. A "No" (most mail carries one) is no verdict.
SPAM_HEADERS = ("x-spam-flag", "x-spam-status", "x-spam")
SPAM_YES_RE = re.compile(r"^\s*yes\b", re.IGNORECASE)


# Auto-reply and bounce markers stand at the start of a subject; a 10k subject need not be scanned.
SUBJECT_SCAN = 200


def classify(message: Message) -> MessageClass:
	headers = message.headers
	subject = (message.subject or "")[:SUBJECT_SCAN]
	if is_spam(headers):
		return MessageClass.SPAM
	if _is_bounce(message, headers, subject):
		return MessageClass.BOUNCE
	if _is_auto_reply(message, headers, subject):
		return MessageClass.AUTO_REPLY
	if _is_bulk(message, headers, subject):
		return MessageClass.BULK
	return MessageClass.HUMAN


def is_spam(headers) -> bool:
	"""Any copy of a spam header says yes (parsing keeps every copy, one per line): a sender cannot
	hide the server's verdict by writing a "No" of their own."""
	return any(
		SPAM_YES_RE.match(value) for name in SPAM_HEADERS for value in headers.get(name, "").split("\n")
	)


def _is_bounce(message, headers, subject) -> bool:
	if message.report_type in ("delivery-status", "feedback-report"):
		return True
	if (
		BOUNCE_PARTS & set(message.part_types)
		or headers.get("x-failed-recipients")
		or headers.get("feedback-type")
	):
		return True
	if SERVER_SUBJECT_RE.match(subject) and not (message.in_reply_to or message.references):
		return True
	from_daemon = bool(DAEMON_RE.match(message.from_addr) or DAEMON_NAME_RE.match(message.from_name))
	null_sender = headers.get("return-path", "").strip() == "<>"
	if not (from_daemon or null_sender):
		return False
	# A server's report: a failure subject, the returned message attached, or no subject at all.
	return bool(BOUNCE_SUBJECT_RE.search(subject)) or "message/rfc822" in message.part_types or not subject


def _is_auto_reply(message, headers, subject) -> bool:
	auto_submitted = headers.get("auto-submitted", "").split(";")[0].strip().lower()
	if auto_submitted and auto_submitted != "no":
		return True
	if headers.get("x-autoreply") or headers.get("x-autorespond"):
		return True
	if headers.get("precedence", "").strip().lower() == "auto_reply":
		return True
	if message.report_type == "disposition-notification":
		return True
	return bool(AUTO_SUBJECT_RE.search(subject))


def _is_bulk(message, headers, subject) -> bool:
	# A list member answering a thread is still a person writing.
	if message.in_reply_to or message.references:
		return False
	if headers.get("precedence", "").strip().lower() in LIST_PRECEDENCE:
		return True
	return bool(headers.get("list-id") or headers.get("list-unsubscribe"))
