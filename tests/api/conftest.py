"""Fixtures for the REST API tests: API clients per persona and simulated traffic."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token

from monitor.demo.simulation import Simulator


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the (process-wide) cache; start every test from zero."""
    cache.clear()
    yield
    cache.clear()


def token_client(user) -> Client:
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


@pytest.fixture
def api_bob(bob) -> Client:
    """bob (readonly in shop) through an API token."""
    return token_client(bob)


@pytest.fixture
def api_charlie(charlie) -> Client:
    """charlie (a member of another project only) through an API token."""
    return token_client(charlie)


# Whole minutes, so that rollup minutes and raw timestamps cover the same span.
TRAFFIC_START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
TRAFFIC_SECONDS = 40 * 60


@pytest.fixture
def traffic(post_logs) -> list[dict]:
    """40 minutes of simulated traffic (every conflict cause) in shop, ingested and aggregated;
    returns the records sent."""
    records = Simulator(seed=7).traffic(TRAFFIC_START, TRAFFIC_SECONDS, rate=0.5)
    for start in range(0, len(records), 500):
        answer = post_logs(records[start : start + 500])
        assert answer.status_code == 200, answer.content
    return records
