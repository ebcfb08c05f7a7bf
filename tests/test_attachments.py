"""Which attachments of a hard mail are stored, under which name (issue 20)."""

import pytest

from case_threads.core.attachments import (
	MAX_NAME,
	MB,
	UNSAFE_RE,
	AttachmentPlan,
	LeftOut,
	Limits,
	plan_attachments,
	safe_file_name,
)


@pytest.mark.parametrize(
	("name", "expected"),
	[
		("contrato.txt", "contrato.txt"),
		("Übersicht März.pdf", "Übersicht März.pdf"),
		('"><svg onload=alert(1)>.txt', "_svg onload=alert(1)_.txt"),
		("<b>bold</b>.txt", "_b_bold_b_.txt"),
		("../../etc/passwd", "_.._etc_passwd"),
		("a%2Fb.txt", "a_2Fb.txt"),
		("C:\\Users\\ada\\scan.pdf", "C_Users_ada_scan.pdf"),
		("report #3?.pdf", "report _3_.pdf"),
		("line\r\nbreak.txt", "line_break.txt"),
		("  .hidden  ", "hidden"),
		("", "fallback.bin"),
		("<>", "fallback.bin"),
		("...", "fallback.bin"),
		(None, "fallback.bin"),
	],
)
def test_safe_file_name(name, expected):
	assert safe_file_name(name, "fallback.bin") == expected


def test_long_name_keeps_its_extension():
	name = safe_file_name("x" * 500 + ".pdf", "f")
	assert len(name) == MAX_NAME and name.endswith(".pdf")


@pytest.mark.parametrize(
	"name",
	['"><img src=x onerror=alert(1)>.png', "a/b\\c<d>e:f|g?h*i%j#k.txt", "\x00\x1f\x7f.txt", "é" * 300],
)
def test_safe_names_have_nothing_frappe_refuses(name):
	safe = safe_file_name(name, "f")
	assert not UNSAFE_RE.search(safe) and "<" not in safe and ">" not in safe and "/" not in safe
	assert 0 < len(safe) <= MAX_NAME
	assert safe_file_name(safe, "f") == safe  # stable


def test_attachment_over_its_limit_is_left_out_the_others_stored():
	plan = plan_attachments(
		13 * MB, [("big.bin", 12 * MB, "f1"), ("small.txt", 10, "f2")], Limits(10 * MB, 25 * MB)
	)
	assert not plan.mail_too_large
	assert plan.attachments == (
		AttachmentPlan("big.bin", 12 * MB, left_out=LeftOut.TOO_LARGE),
		AttachmentPlan("small.txt", 10, store_as="small.txt"),
	)
	assert plan.keep_raw


def test_attachment_at_its_limit_is_stored():
	plan = plan_attachments(11 * MB, [("a.bin", 10 * MB, "f")], Limits(10 * MB, 25 * MB))
	assert plan.attachments[0].store_as == "a.bin"
	assert not plan.keep_raw


def test_mail_over_its_limit_keeps_no_attachment():
	plan = plan_attachments(30 * MB, [("a.txt", 1, "f"), ("b.txt", 1, "g")], Limits(10 * MB, 25 * MB))
	assert plan.mail_too_large and plan.keep_raw
	assert {a.left_out for a in plan.attachments} == {LeftOut.MAIL_TOO_LARGE}
	assert all(a.store_as is None for a in plan.attachments)


def test_mail_over_its_limit_without_attachments_still_keeps_its_raw():
	plan = plan_attachments(30 * MB, [], Limits(10 * MB, 25 * MB))
	assert plan.mail_too_large and plan.keep_raw and plan.attachments == ()


def test_zero_means_no_limit_of_the_app():
	plan = plan_attachments(10**9, [("a", 10**9, "f")], Limits.from_mb(0, 0))
	assert not plan.mail_too_large and plan.attachments[0].store_as == "a"


def test_renamed_attachment_keeps_the_raw():
	plan = plan_attachments(100, [('"><svg>.txt', 5, "f")], Limits())
	assert plan.attachments[0].renamed and plan.keep_raw


def test_limits_from_settings():
	assert Limits.from_mb(10, 25) == Limits(10 * MB, 25 * MB)
	assert Limits.from_mb("0.5", None) == Limits(MB // 2, 0)
