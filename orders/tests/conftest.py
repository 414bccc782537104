# Orders tests that go through billing use billing's helpers over the suite's localstripe.
from billing.tests.conftest import billing  # noqa: F401
