import click
from frappe.commands import get_site, pass_context


@click.group("case-threads")
def case_threads():
	"""Case Threads tools."""


@case_threads.command("preview")
@click.argument("path", type=click.Path(exists=True))
@click.option("--email-account", help="Decide as if this Email Account had pulled the mail.")
@click.option("--verbose", is_flag=True, help="One line per mail.")
@pass_context
def preview_command(context, path, email_account=None, verbose=False):
	"""Run routing and matching over an mbox or a folder of mails and report; nothing is written."""
	import frappe

	from case_threads.preview import preview, raw_mails

	frappe.init(site=get_site(context))
	frappe.connect()
	try:
		mails = list(raw_mails(path))
		with click.progressbar(
			mails, label="Routing and matching", file=click.get_text_stream("stderr")
		) as bar:
			rows, totals = preview(bar, email_account)
	finally:
		frappe.destroy()
	if verbose:
		for name, outcome, target, reason in rows:
			click.echo(f"{name:<60} {outcome:<16} {target:<24} {reason}")
	click.echo(f"\n{'outcome':<20}{'mails':>8}")
	for outcome, count in totals.most_common():
		click.echo(f"{outcome:<20}{count:>8}")
	click.echo(f"{'total':<20}{len(rows):>8}")


commands = [case_threads]
