"""What a matched email does to its case (F7, F8), as the table the product page states."""

from enum import Enum

from case_threads.core.classify import MessageClass


class CaseStatus(str, Enum):
	OPEN = "Open"
	REPLIED = "Replied"
	RESOLVED = "Resolved"
	CLOSED = "Closed"


class Outcome(str, Enum):
	ATTACH = "attach"
	REOPEN = "reopen"
	CLONE = "clone"
	ATTACH_SILENTLY = "attach_silently"
	NEW_CASE = "new_case"
	UNPROCESSED = "unprocessed"


# A customer's own email, by the status of the case it matched.
CUSTOMER_REPLY = {
	CaseStatus.OPEN: Outcome.ATTACH,
	CaseStatus.REPLIED: Outcome.ATTACH,
	CaseStatus.RESOLVED: Outcome.REOPEN,
	CaseStatus.CLOSED: Outcome.CLONE,
}


def lifecycle_outcome(status: str, message_class: MessageClass, sender_is_internal: bool) -> Outcome:
	"""Auto-replies, bounces, bulk mail and colleagues' emails attach without touching the status."""
	status = CaseStatus(status)  # ValueError on an unknown status
	if message_class is not MessageClass.HUMAN or sender_is_internal:
		return Outcome.ATTACH_SILENTLY
	return CUSTOMER_REPLY[status]
