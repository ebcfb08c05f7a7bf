from case_threads.hard_mail_setup import setup


def execute():
	setup()
