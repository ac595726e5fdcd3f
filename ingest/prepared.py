"""Postgres statements that run with the same text for every batch (the rollup upserts, the
conflict lookups, the analysis write-back), bound and prepared on the server.

- Parameters are bound on the server, in binary (`%b` placeholders): no SQL text is built from
  them, and arrays of strings and times are not escaped and parsed as text.
- psycopg prepares a statement once it has run a few times on a connection
  (`prepare_threshold`, set in monitor/settings.py), so Postgres stops parsing and planning it
  for every batch. The session keeps one generic plan per statement (`plan_cache_mode`), whose
  partition pruning happens when it runs. Constants belong in the SQL text, not in the
  parameters, so that the generic plan can use partial indexes whose condition names them.
- Results come back in binary too (times, numbers and jsonb without text parsing).

Django's own cursors bind on the client and never prepare.
`CONFLICTWATCH_PREPARED_STATEMENTS=false` keeps the server-side binding but prepares nothing,
for connection poolers that do not carry prepared statements between transactions.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection


@contextmanager
def prepared_cursor() -> Iterator[psycopg.Cursor]:
    """A cursor of Django's connection (its transaction) for these statements, with binary
    results; database errors surface as Django's, like every other query's."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.format = psycopg.pq.Format.BINARY
        yield cursor


@contextmanager
def pipeline() -> Iterator[None]:
    """On Postgres, statements executed inside go out without a wait for each result
    (psycopg's pipeline mode): Postgres runs one while Python prepares the next. Reading a
    result waits for the statements sent before it; an error surfaces where a result is read
    or by the end of the block, as Django's. Elsewhere the statements simply run one by one."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield
