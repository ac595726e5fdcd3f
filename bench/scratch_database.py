"""A Postgres database of a benchmark's own on the machine's server (CONFLICTWATCH_TEST_PG, else
127.0.0.1:5432 as user postgres), with Django set up and migrated on it, dropped at the end.
Batches are aggregated by the benchmark, timed, not by a Celery worker."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_ADMIN = os.environ.get("CONFLICTWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database(prefix: str) -> Iterator[None]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from monitor.celery import app

        app.conf.task_always_eager = False
        app.conf.broker_url = "memory://"
        call_command("migrate", "--noinput", verbosity=0)
        yield
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
