"""F7 internal addresses (case_threads.core.internal): the configurable list of colleagues' addresses."""

import pytest

from case_threads.core.internal import address_is_listed, internal_patterns

SETTING = """
ops@partner.test
*@ourcompany.test
  @branch.test ,  Boss@Elsewhere.test
"""


def test_patterns_from_the_setting():
	assert internal_patterns(SETTING) == (
		"ops@partner.test",
		"*@ourcompany.test",
		"@branch.test",
		"boss@elsewhere.test",
	)
	assert internal_patterns(None) == ()


@pytest.mark.parametrize(
	"address, internal",
	[
		("ops@partner.test", True),
		("OPS@Partner.test", True),
		("other@partner.test", False),
		("anyone@ourcompany.test", True),
		("anyone@sub.ourcompany.test", False),
		("x@branch.test", True),
		("boss@elsewhere.test", True),
		("customer@customer.test", False),
		("", False),
		("not-an-address", False),
	],
)
def test_address_is_listed(address, internal):
	assert address_is_listed(address, internal_patterns(SETTING)) is internal
