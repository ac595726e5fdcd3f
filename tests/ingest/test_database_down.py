"""Postgres unreachable: every ingest door answers 503 with Retry-After, which gateways and
shippers retry, and keeps nothing half-stored; once the database is back, the resent batch is
stored once."""

import json
from contextlib import contextmanager

import pytest
from django.db import connection
from google.rpc.status_pb2 import Status

from ingest.models import IngestBatch, Request
from ingest.sources import create_source
from tests.records import record

pytestmark = pytest.mark.postgres
LOGS = "/ingest/v1/logs"
TRACES = "/ingest/otlp/v1/traces"


@pytest.fixture
def token(transactional_db) -> str:
    if connection.vendor != "postgresql":
        pytest.skip("the database is taken away by pointing the connection at a closed port")
    _, tok = create_source("shop", "gateway")
    return tok


@contextmanager
def database_down():
    """The connection pointed at a port where no server listens, then restored."""
    settings = connection.settings_dict
    host, port = settings["HOST"], settings["PORT"]
    connection.close()
    settings["HOST"], settings["PORT"] = "127.0.0.1", "1"
    try:
        yield
    finally:
        connection.close()
        settings["HOST"], settings["PORT"] = host, port


def post_logs(client, token: str, records: list):
    body = "\n".join(json.dumps(r) for r in records)
    return client.post(
        f"{LOGS}?format=native",
        body,
        content_type="application/x-ndjson",
        HTTP_X_CONFLICTWATCH_TOKEN=token,
    )


def test_logs_answer_503_with_retry_after_and_the_resent_batch_is_stored_once(client, token):
    records = [record(1), record(2, status=409)]
    with database_down():
        down = post_logs(client, token, records)
    assert down.status_code == 503
    assert int(down["Retry-After"]) > 0
    assert "database" in down.json()["error"]

    assert (Request.objects.count(), IngestBatch.objects.count()) == (0, 0)
    assert post_logs(client, token, records).status_code == 200
    assert post_logs(client, token, records).status_code == 200  # a shipper's second retry
    assert Request.objects.count() == 2


def test_otlp_answers_503_with_retry_after_in_its_encoding(client, token):
    with database_down():
        response = client.post(
            TRACES,
            b"",
            content_type="application/x-protobuf",
            HTTP_X_CONFLICTWATCH_TOKEN=token,
        )
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "database" in Status.FromString(response.content).message
