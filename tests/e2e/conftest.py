"""Browser tests (tests/browser.py has the fixtures): marked e2e, with committed data."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _committed_data(transactional_db):
    """The live server thread must see the test's data: use real commits."""


# The SMTP server of tests/mail.py, for the walks that follow a mail.
from tests.mail import mailbox, smtp_server  # noqa: E402, F401
