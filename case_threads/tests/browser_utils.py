"""Playwright (sync API) against Debian's Chromium, for the desk tests in test_browser.py.

Playwright's own browser download is never used: the browser is /usr/bin/chromium
(`scripts/install-test-deps` installs both). Missing either is a test failure, not a skip.
"""

import os
import re
from pathlib import Path

import frappe
from frappe.utils.password import update_password

CHROMIUM = os.environ.get("CASE_THREADS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "Ct-browser-9x!"
INSTALL_HINT = (
	"run: scripts/install-test-deps ~/frappe-bench/env/bin/python "
	"(Debian package chromium, and `pip install playwright` into the bench env; "
	"never `playwright install`)"
)


def screenshot_dir():
	default = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
	path = Path(os.environ.get("CASE_THREADS_SCREENSHOTS") or default)
	path.mkdir(parents=True, exist_ok=True)
	return path


def launch_browser():
	"""(playwright, browser); raises AssertionError naming what to install when something is missing."""
	try:
		from playwright.sync_api import sync_playwright
	except ImportError as e:
		raise AssertionError(f"Python package playwright is missing ({e}); {INSTALL_HINT}") from e
	if not os.access(CHROMIUM, os.X_OK):
		raise AssertionError(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
	playwright = sync_playwright().start()
	try:
		browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
	except Exception:
		playwright.stop()
		raise
	return playwright, browser


class LiveDesk:
	"""Mixin for a FrappeTestCase: Chromium, then the class's data (`set_up_desk`, committed), then the
	site served on 127.0.0.1 at `cls.url`. The browser is checked before any data is made."""

	@classmethod
	def setUpClass(cls):
		from case_threads.tests.live_server import live_server

		super().setUpClass()
		cls.playwright, cls.browser = launch_browser()
		# A fresh site still shows the setup wizard instead of the desk.
		frappe.db.set_single_value("System Settings", "setup_complete", 1)
		cls.set_up_desk()
		frappe.db.commit()
		cls.server = live_server(frappe.local.site)
		cls.url = cls.server.__enter__()

	@classmethod
	def set_up_desk(cls):
		"""The class's users, mailboxes and settings, made before the live server starts."""

	@classmethod
	def tearDownClass(cls):
		cls.server.__exit__(None, None, None)
		cls.browser.close()
		cls.playwright.stop()
		super().tearDownClass()


def desk_user(email_id, roles, mailboxes=()):
	"""A user who can log in through /login with PASSWORD."""
	from case_threads.tests.utils import make_user

	make_user(email_id, roles, mailboxes)
	frappe.db.set_value("User", email_id, "user_type", "System User")
	update_password(email_id, PASSWORD)
	frappe.db.commit()
	return email_id


class Desk:
	"""One logged-in browser context; `shot()` saves a full-page PNG per step."""

	def __init__(self, browser, base_url, scenario):
		self.base_url = base_url
		self.scenario = scenario
		self.step = 0
		self.context = browser.new_context(viewport=VIEWPORT, locale="en-US")
		self.context.set_default_timeout(20_000)
		self.page = self.context.new_page()
		self.errors = []
		self.page.on("pageerror", lambda e: self.errors.append(str(e)))

	def close(self):
		self.context.close()

	def shot(self, name, path=None, full_page=True):
		"""full_page=False: what the window shows (a full-page shot draws Frappe's sticky page head
		over the top of the form)."""
		self.step += 1
		path = path or screenshot_dir() / f"{self.scenario}-{self.step:02d}-{name}.png"
		self.page.screenshot(path=str(path), full_page=full_page)
		return path

	def login(self, user, password=PASSWORD):
		page = self.page
		page.goto(self.base_url + "/login", wait_until="domcontentloaded")
		page.locator("#login_email").fill(user)
		page.locator("#login_password").fill(password)
		self.shot("login")
		page.locator(".btn-login").first.click()
		page.wait_for_url(re.compile(r"/app"), wait_until="domcontentloaded")
		self.wait_desk()

	def goto(self, route):
		"""Open a desk route (e.g. "communication/abc") and wait until its page is shown."""
		self.page.goto(f"{self.base_url}/app/{route}", wait_until="domcontentloaded")
		self.wait_desk()

	def wait_desk(self):
		# Not "load": avatars point at gravatar.com, which this loopback-only setup never reaches.
		self.page.wait_for_load_state("domcontentloaded")
		self.page.wait_for_function(
			"() => window.frappe && frappe.boot && frappe.router && !frappe.dom.freeze_count"
		)
		self.wait_idle()

	def wait_idle(self):
		"""No frappe.call in flight and no freeze: the desk has settled."""
		self.page.wait_for_function(
			"() => !(frappe.request && frappe.request.ajax_count > 0) && !document.querySelector('#freeze.in')"
		)

	def wait_form(self, doctype, name=None):
		"""The form of `doctype` (and `name`) is the current, fully rendered page."""
		self.page.wait_for_function(
			"""([doctype, name]) => window.cur_frm && cur_frm.doctype === doctype
				&& (!name || cur_frm.doc.name === name) && cur_frm.page.wrapper.is(':visible')
				&& cur_frm.layout && cur_frm.layout.wrapper.is(':visible')""",
			arg=[doctype, name],
		)
		self.wait_idle()

	def group_button(self, group, label):
		"""Click a custom button inside a form's button group (Frappe's inner-group-button)."""
		page = self.page
		page.locator(f'.page-actions .inner-group-button[data-label="{group}"] > button').click()
		page.locator(
			f'.page-actions .inner-group-button[data-label="{group}"] .dropdown-menu a.dropdown-item',
			has_text=label,
		).click()

	def dialog(self, title):
		"""The visible modal with this title."""
		dialog = self.page.locator(".modal.show .modal-dialog").filter(
			has=self.page.locator(".modal-title", has_text=title)
		)
		dialog.wait_for(state="visible")
		return dialog

	def alert(self, text):
		"""Wait for frappe.show_alert's toast (the action's confirmation message)."""
		alert = self.page.locator("#alert-container .alert-message", has_text=text)
		alert.first.wait_for(state="visible")
		return alert.first.inner_text()

	def wait_list_count(self, total):
		"""The list view's "x of N" shows N; on timeout the failure names what it showed."""
		try:
			self.page.wait_for_function(
				"n => (document.querySelector('.list-count') || {}).textContent?.trim().endsWith(`of ${n}`)",
				arg=total,
			)
		except Exception as e:
			self.shot("list-count-timeout")
			shown = self.page.locator(".list-count").first.text_content()
			raise AssertionError(f"list count shows {shown!r}, expected 'of {total}'") from e
		self.wait_idle()
