"""Planted credentials (hostile_corpus.SECRETS: query parameters as real services name them,
`;` parameters, URL values, fragments, userinfo of any scheme case, URL headers) through every
door; after ingest and aggregation, a dump of the whole database (`pg_dump` on Postgres, the
database file on SQLite) holds none of the planted values."""

import json
import os
import subprocess

import pytest
from django.db import connection

from ingest.models import IngestBatch, Request
from ingest.sources import create_source
from monitor.models import Project
from tests.ingest.hostile_corpus import SECRET_TEST_HEADERS, SECRETS, for_door, render
from tests.ingest.test_hostile_corpus import body_of
from tests.ingest.test_importlog import importlog


def database_dump() -> bytes:
    """Everything the database holds, as bytes."""
    if connection.vendor == "sqlite":
        return connection.connection.serialize()
    db = connection.settings_dict
    env = dict(os.environ, PGPASSWORD=db.get("PASSWORD") or "")
    command = ["pg_dump", "--no-owner", "-h", db["HOST"] or "127.0.0.1", "-U", db["USER"]]
    if db["PORT"]:
        command += ["-p", str(db["PORT"])]
    return subprocess.run(
        [*command, db["NAME"]], env=env, capture_output=True, check=True, timeout=120
    ).stdout


@pytest.fixture
def token(transactional_db) -> str:
    project = Project.objects.create(slug="shop", name="Shop", extra_headers=SECRET_TEST_HEADERS)
    return create_source(project.slug, "gateway")[1]


def assert_no_secret_stored(cases) -> None:
    assert Request.objects.count() == len(cases)
    assert not IngestBatch.objects.exclude(status=IngestBatch.Status.DONE).exists()
    dump = database_dump()
    assert b"[redacted]" in dump  # the dump does hold the rows
    leaked = [case.name for case in cases if case.extra["secret"].encode() in dump]
    assert not leaked


@pytest.mark.parametrize("door", ["native", "nginx", "combined"])
def test_http(client, token, door):
    cases = for_door(door, SECRETS)
    body, content_type, fmt = body_of(door, cases)
    response = client.post(
        f"/ingest/v1/logs?format={fmt}",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == len(cases)
    assert_no_secret_stored(cases)


def test_otlp(client, token):
    cases = for_door("otlp", SECRETS)
    response = client.post(
        "/ingest/otlp/v1/traces",
        json.dumps(render("otlp", cases)),
        content_type="application/json",
        HTTP_X_CONFLICTWATCH_TOKEN=token,
    )
    assert response.status_code == 200
    assert "partialSuccess" not in response.json()
    assert_no_secret_stored(cases)


@pytest.mark.parametrize("door", ["native", "combined"])
def test_importlog(token, door, tmp_path):
    cases = for_door(door, SECRETS)
    body, _, fmt = body_of(door, cases)
    log = tmp_path / "secrets.log"
    log.write_text(body + "\n")
    out, _ = importlog(str(log), "--project", "shop", "--format", fmt)
    assert f"{len(cases)} accepted" in out
    assert_no_secret_stored(cases)


def test_the_redacted_values_keep_their_names(client, token):
    cases = for_door("native", SECRETS)
    body, content_type, fmt = body_of("native", cases)
    client.post(
        f"/ingest/v1/logs?format={fmt}",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    queries = set(Request.objects.values_list("query", flat=True))
    assert "page=2&accessToken=[redacted]&sort=asc" in queries
    assert "a=1;token=[redacted];b=2" in queries
    assert "page=2&token[]=[redacted]&sort=asc" in queries
    paths = set(Request.objects.values_list("path", flat=True))
    assert "/cart;jsessionid=[redacted]/items" in paths
    assert "/v1/orders/7" in paths  # the full URL keeps its path only
    locations = {
        row["location"]
        for row in Request.objects.values_list("response_headers", flat=True)
        if "location" in row
    }
    assert "https://app.example/cb?code=[redacted]&state=ok" in locations
    assert "https://app.example/cb#id_token=[redacted]&x=1" in locations
    assert "HTTPS://[redacted]@app.example/x" in locations
