"""Pages and API reads on a streaming replica (DATABASE_REPLICA_URL, monitor/ops/routers.py), writes
on the primary: a primary and a hot standby that this test starts, with real gunicorn, Celery
and Redis. With the replica's replay paused, new data is stored and aggregated on the primary
while pages and the API still show the replica's older state; once it catches up, they show
the new data."""

import re

import httpx
import pytest

from tests.records import record
from tests.stack.clusters import Clusters
from tests.stack.stack import Stack

WINDOW = {"from": "-3h", "to": "now"}


@pytest.fixture
def replicated(tmp_path):
    clusters = Clusters()
    stack = None
    try:
        admin_url = clusters.start_primary()
        clusters.add_replica()
        stack = Stack("postgres", tmp_path, pg_admin_url=admin_url)
        stack.env["DATABASE_REPLICA_URL"] = clusters.url(clusters.replica_port, stack.dbname)
        stack.up()
        yield stack, clusters
    finally:
        if stack is not None:
            clusters.resume_replay()
            stack.down()
        clusters.stop()


def signed_in(stack: Stack) -> httpx.Client:
    client = httpx.Client(base_url=stack.url, timeout=30)
    form = client.get("/accounts/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = client.post(
        "/accounts/login/",
        data={"username": "ops", "password": "pw-ops-1", "csrfmiddlewaretoken": csrf},
        headers={"Referer": stack.url + "/accounts/login/"},
    )
    assert answer.status_code == 302, answer.text
    return client


def marker_rows(page: str, marker: str) -> int:
    """How many different marked requests (marker/N) the page lists (long paths are shown with
    <wbr> break hints after each slash)."""
    text = page.replace("<wbr>", "")
    return len(set(re.findall(re.escape(marker) + r"/\d+", text)))


def requests_under(stack: Stack, prefix: str) -> list[dict]:
    answer = httpx.get(
        f"{stack.url}/api/v1/projects/shop/requests/",
        params={"path": prefix, **WINDOW},
        headers={"Authorization": f"Token {stack.api_key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def test_pages_and_api_read_the_replica_while_writes_go_to_the_primary(replicated):
    stack, clusters = replicated
    first = [record(i, path=f"/v1/orders/{i}") for i in range(30)]
    assert stack.ingest(first).json()["accepted"] == 30
    stack.wait_aggregated()
    clusters.wait_replica_caught_up()
    assert stack.api("summary/", **WINDOW)["requests"] == 30

    clusters.pause_replay()
    # Writes: ingest stores on the primary (a write on the replica would be refused, it is
    # read-only) and the worker aggregates there.
    marker = "/v1/replica-marker"
    second = [record(100 + i, path=f"{marker}/{i}", request_id=f"m-{i}") for i in range(20)]
    assert stack.ingest(second).json()["accepted"] == 20
    stack.wait_aggregated()
    primary_rows = stack.sql("SELECT count(*) FROM ingest_request")[0][0]
    assert primary_rows == 50
    replica_rows = clusters.replica_sql("SELECT count(*) FROM ingest_request", stack.dbname)[0][0]
    assert replica_rows == 30

    # Reads: the API and the pages answer from the replica, which has not seen the new rows.
    assert stack.api("summary/", **WINDOW)["requests"] == 30
    assert requests_under(stack, marker) == []
    # Signing in writes a session on the primary and reads it back there: it works although
    # the replica lags (users, sessions and settings never come from the replica).
    browser = signed_in(stack)
    explorer = browser.get("/p/shop/requests/", params={"path": marker, **WINDOW})
    assert explorer.status_code == 200
    assert marker_rows(explorer.text, marker) == 0
    # A rule created through the API is read back at once: rules live on the primary.
    rule = httpx.post(
        f"{stack.url}/api/v1/projects/shop/rules/",
        json={"name": "replica check", "metric": "conflicts", "threshold": 5, "window_minutes": 5},
        headers={"Authorization": f"Token {stack.api_key}"},
        timeout=30,
    )
    assert rule.status_code == 201, rule.text
    assert "replica check" in [r["name"] for r in stack.api("rules/")]

    clusters.resume_replay()
    clusters.wait_replica_caught_up()
    assert stack.api("summary/", **WINDOW)["requests"] == 50
    assert len(requests_under(stack, marker)) == 20
    explorer = browser.get("/p/shop/requests/", params={"path": marker, **WINDOW})
    assert marker_rows(explorer.text, marker) == 20
