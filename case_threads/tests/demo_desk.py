"""What a demo agent sees in the desk: the demo's cases, one reopened, one cloned, the Unprocessed
count. Used by test_demo.py (on the test site) and, against a running `scripts/demo`, to take the
README's pictures:

    cd BENCH/sites && ../env/bin/python -m case_threads.tests.demo_desk case-threads.demo http://127.0.0.1:8000 DIR
"""

import sys
from pathlib import Path
from urllib.parse import quote

import frappe

from case_threads.demo import world
from case_threads.tests.browser_utils import Desk, launch_browser


def demo_facts(account=world.ACCOUNT):
	"""From the database: the demo's cases, the reopened one, the clone and the waiting count."""
	cases = frappe.get_all(
		"Case",
		filters={"queue": world.QUEUE},
		fields=["name", "reopen_count", "cloned_from"],
		order_by="name",
	)
	return {
		"cases": [c.name for c in cases],
		"reopened": [c.name for c in cases if c.reopen_count],
		"clones": [(c.name, c.cloned_from) for c in cases if c.cloned_from],
		"unprocessed": frappe.db.count(
			"Unprocessed Email", {"email_account": account, "status": "Unprocessed"}
		),
	}


def check_demo_desk(browser, url, facts, shots, user=world.AGENTS[0], password=world.PASSWORD):
	"""Log in as `user` and assert the desk shows `facts`; saves case-list.png, reopened.png,
	clone.png and unprocessed.png in `shots`. Returns the Desk's page errors."""
	shots = Path(shots)
	shots.mkdir(parents=True, exist_ok=True)
	desk = Desk(browser, url, "demo")
	try:
		desk.login(user, password)
		page = desk.page

		desk.goto(f"case?queue={quote(world.QUEUE)}")
		desk.wait_list_count(len(facts["cases"]))
		shown = set(
			page.locator(".list-row-container .list-row").evaluate_all(
				"rows => rows.map(r => r.querySelector('[data-name]')?.dataset.name)"
			)
		)
		missing = set(facts["cases"]) - shown
		assert not missing, f"the Case list does not show {sorted(missing)} (shows {sorted(shown)})"
		page.screenshot(path=str(shots / "demo-case-list.png"))

		(reopened,) = facts["reopened"]
		desk.goto(f"case/{reopened}")
		desk.wait_form("Case", reopened)
		# Reopen Count is in the collapsed Thread section.
		page.locator(".form-section .section-head >> visible=true", has_text="Thread").first.click()
		count = page.locator('.frappe-control[data-fieldname="reopen_count"] .control-value >> visible=true')
		assert count.inner_text().strip() == "1", f"{reopened} shows reopen count {count.inner_text()!r}"
		# The header's indicator shows the service level (F23); the status is the form's own field.
		status = page.locator('.frappe-control[data-fieldname="status"] select >> visible=true').first
		assert status.input_value() == "Open", f"{reopened} shows the status {status.input_value()!r}"
		page.screenshot(path=str(shots / "demo-reopened.png"), full_page=True)

		((clone, original),) = facts["clones"]
		desk.goto(f"case/{clone}")
		desk.wait_form("Case", clone)
		page.locator(f'.form-message a[href="/app/case/{original}"] >> visible=true').wait_for()
		banner = page.locator(".form-message >> visible=true").inner_text()
		assert "Continues the closed case" in banner, banner
		page.screenshot(path=str(shots / "demo-clone.png"), full_page=True)

		desk.goto(f"unprocessed-email?status=Unprocessed&email_account={quote(world.ACCOUNT)}")
		desk.wait_list_count(facts["unprocessed"])
		page.screenshot(path=str(shots / "demo-unprocessed.png"))
		return desk.errors
	finally:
		desk.close()


def cli(site, url, shots):
	frappe.init(site=site, sites_path=".")
	frappe.connect()
	playwright, browser = launch_browser()
	try:
		facts = demo_facts()
		errors = check_demo_desk(browser, url, facts, shots)
		print(f"the desk at {url} shows {facts}; pictures in {shots}; page errors: {errors or 'none'}")
	finally:
		browser.close()
		playwright.stop()
		frappe.destroy()


if __name__ == "__main__":
	cli(*sys.argv[1:4])
