"""Team fixtures: the SMTP server of tests/mail.py and an operator (superuser)."""

import pytest
from django.contrib.auth import get_user_model

from tests.mail import mailbox, smtp_server  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """These tests sign in hundreds of times: a fast hasher (the real one is tested by Django)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def root(db):
    """A superuser: an admin of every project without a membership."""
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-1234")
