import pytest

from case_threads.core import MessageClass, classify, parse_message

HUMAN, AUTO, BOUNCE, BULK = (
	MessageClass.HUMAN,
	MessageClass.AUTO_REPLY,
	MessageClass.BOUNCE,
	MessageClass.BULK,
)


def mail(headers="", subject="Hello", sender="ada@customer.test", content_type="text/plain"):
	return parse_message(
		f"From: {sender}\nSubject: {subject}\nContent-Type: {content_type}\n{headers}\nbody\n".encode()
	)


@pytest.mark.parametrize(
	("message", "expected"),
	[
		(mail(), HUMAN),
		(mail("Auto-Submitted: no"), HUMAN),
		(mail("Auto-Submitted: auto-replied"), AUTO),
		(mail("Auto-Submitted: auto-generated; owner-email=x@y"), AUTO),
		(mail("X-Autoreply: yes"), AUTO),
		(mail("X-Autorespond: yes"), AUTO),
		(mail("Precedence: auto_reply"), AUTO),
		# Outlook puts X-Auto-Response-Suppress on ordinary mail: not a signal by itself.
		(mail("X-Auto-Response-Suppress: All"), HUMAN),
		(mail(subject="Out of Office: back Monday"), AUTO),
		(mail(subject="Automatic reply: Printer"), AUTO),
		(mail(subject="Abwesenheitsnotiz: Drucker"), AUTO),
		(mail(subject="Réponse automatique : absence"), AUTO),
		(mail(subject="Respuesta automática: vacaciones"), AUTO),
		(mail(subject="自动回复: 打印机"), AUTO),
		(mail(content_type='multipart/report; report-type=disposition-notification; boundary="b"'), AUTO),
		(mail(content_type='multipart/report; report-type=delivery-status; boundary="b"'), BOUNCE),
		(mail(content_type='multipart/report; report-type=feedback-report; boundary="b"'), BOUNCE),
		(mail("X-Failed-Recipients: bob@x.test"), BOUNCE),
		(mail(subject="Undelivered Mail Returned to Sender", sender="MAILER-DAEMON@mx.test"), BOUNCE),
		(mail(subject="failure notice", sender="postmaster@mx.test"), BOUNCE),
		(
			mail("Return-Path: <>", subject="Delivery Status Notification (Failure)", sender="x@mx.test"),
			BOUNCE,
		),
		(mail(subject="Undeliverable: Printer", sender="someone@x.test"), BOUNCE),
		# A person forwarding or answering about a bounce is a person.
		(mail(subject="Fwd: Undeliverable: Printer", sender="someone@x.test"), HUMAN),
		(mail(subject="Re: failure notice", sender="someone@x.test"), HUMAN),
		(mail("Precedence: bulk"), BULK),
		(mail("Precedence: list"), BULK),
		(mail("List-Id: <news.example.com>"), BULK),
		(mail("List-Unsubscribe: <mailto:u@x>"), BULK),
		(mail("List-Id: <dev.example.com>\nIn-Reply-To: <a@x>"), HUMAN),
	],
)
def test_classify(message, expected):
	assert classify(message) is expected
