"""Postgres: migrating an installation with raw rows to the day-partitioned table keeps every
row, its id and the id sequence (ingest/migrations/0003_partition_requests_by_day.py)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
SERVER = "postgres://postgres@127.0.0.1:5432"
APPS = ["contenttypes", "auth", "monitor", "alerts", "authtoken", "sessions", "admin"]


def manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": ""}
    subprocess.run(
        [sys.executable, "manage.py", *args, "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )


@pytest.fixture
def scratch_database(db):
    if connection.vendor != "postgresql":
        pytest.skip("the conversion runs on Postgres only")
    name = f"cw_migration_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{SERVER}/{name}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_the_migration_partitions_an_existing_table_without_losing_rows(scratch_database):
    url = scratch_database
    manage(url, "migrate", "ingest", "0002")
    for app in APPS:
        manage(url, "migrate", app)
    with psycopg.connect(url, autocommit=True) as conn:
        project = conn.execute(
            "INSERT INTO monitor_project (slug, name, created_at, race_window_seconds, "
            "extra_headers, secret_headers, route_patterns, conflict_phrases, version_params, "
            "version_headers, max_endpoints) "
            "VALUES ('m', 'm', now(), 5, '[]', '[]', '[]', '{}', '[]', '[]', 2000) RETURNING id"
        ).fetchone()[0]
        endpoint = conn.execute(
            "INSERT INTO monitor_endpoint (project_id, method, route, first_seen) "
            "VALUES (%s, 'GET', '/x', now()) RETURNING id",
            [project],
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO ingest_request (project_id, endpoint_id, dedup_key, ts, method, path, "
            "route, status, request_headers, response_headers, resource) "
            "SELECT %s, %s, 'k' || i, now() - i * interval '7 hours', 'GET', '/x', '/x', 200, "
            "'{}', '{}', '/x' FROM generate_series(1, 300) AS i",
            [project, endpoint],
        )
        before = conn.execute("SELECT count(*), sum(id), max(id) FROM ingest_request").fetchone()
    manage(url, "migrate", "ingest")
    with psycopg.connect(url, autocommit=True) as conn:
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'ingest_request'")
        assert kind.fetchone()[0] == "p"
        after = conn.execute("SELECT count(*), sum(id), max(id) FROM ingest_request").fetchone()
        assert after == before
        days = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ingest_request'::regclass"
        ).fetchone()[0]
        assert days >= 300 * 7 // 24
        new_id = conn.execute(
            "INSERT INTO ingest_request (project_id, endpoint_id, dedup_key, ts, method, path, "
            "route, status, request_headers, response_headers, resource) "
            "VALUES (%s, %s, 'new', now(), 'GET', '/x', '/x', 200, '{}', '{}', '/x') "
            "RETURNING id",
            [project, endpoint],
        ).fetchone()[0]
        assert new_id == before[2] + 1
