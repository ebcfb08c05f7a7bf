"""The demo desk (scripts/demo): a support mailbox in a Dovecot on 127.0.0.1, an SMTP capture,
demo users, one Email Route, and the project's demo mail (demo/mail/*.eml, pulled by Frappe's own
IMAP job as demo/plan.json says). world.py makes the site's side, mail.py plays the plan, run.py
is the command."""
