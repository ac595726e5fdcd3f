"""Shared fixtures: personas (alice and bob share the "shop" project; charlie is an outsider),
sources with tokens, and helpers to post to the ingest endpoint.

Tests run against whatever DATABASE_URL names (the Makefile runs them on Postgres and SQLite).
Tasks run in-process here; tests/stack/ starts real gunicorn, Celery and Redis processes.
"""

import gzip
import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from ingest.sources import create_source
from monitor.celery import app as celery_app
from monitor.models import Membership, Project


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Aggregation runs in the test process, right after each commit."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _user(name: str, **extra):
    return get_user_model().objects.create_user(name, f"{name}@example.com", "pw-" + name, **extra)


@pytest.fixture
def shop(db):
    return Project.objects.create(slug="shop", name="Shop API")


@pytest.fixture
def alice(shop):
    user = _user("alice")
    Membership.objects.create(project=shop, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def bob(shop):
    user = _user("bob")
    Membership.objects.create(project=shop, user=user, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def charlie(db):
    """Belongs to another project only (its admin)."""
    other = Project.objects.create(slug="other", name="Other API")
    user = _user("charlie")
    Membership.objects.create(project=other, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def token(shop) -> str:
    _, tok = create_source(shop.slug, "gateway")
    return tok


@pytest.fixture
def api(client, alice):
    """A test client signed in through an API token."""
    key = Token.objects.create(user=alice).key
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


@pytest.fixture
def post_logs(client, token, django_capture_on_commit_callbacks):
    """Post a body to /ingest/v1/logs and run what commit enqueues (aggregation)."""

    def post(
        body,
        *,
        fmt=None,
        content_type="application/x-ndjson",
        gzipped=False,
        auth=True,
        headers=None,
        **extra,
    ):
        if isinstance(body, list):
            body = "\n".join(json.dumps(r) for r in body)
        if isinstance(body, str):
            body = body.encode()
        hdrs = dict(headers or {})
        if auth:
            hdrs.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
        if gzipped:
            body = gzip.compress(body)
            hdrs["HTTP_CONTENT_ENCODING"] = "gzip"
        url = "/ingest/v1/logs" + (f"?format={fmt}" if fmt else "")
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, body, content_type=content_type, **hdrs, **extra)

    return post


# Browser fixtures for every browser test, defined once so that one Playwright instance serves
# the whole session (two would clash over this thread's event loop).
from tests.browser import browser, ship, sign_in, watched  # noqa: E402, F401
