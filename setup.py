from setuptools import find_packages, setup

setup(
	name="case_threads",
	version="0.1.0",
	description="Inbound email conversations as tracked Cases for Frappe",
	author="case_threads developers",
	author_email="dev@case-threads.invalid",
	license="MIT",
	packages=find_packages(include=["case_threads", "case_threads.*"]),
	include_package_data=True,
	zip_safe=False,
	python_requires=">=3.10",
	# frappe itself comes from the bench, not from PyPI.
	install_requires=["python-dateutil"],
)
