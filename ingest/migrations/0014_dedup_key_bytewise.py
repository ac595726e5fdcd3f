"""The raw table's dedup key compared byte by byte (collation "C") on Postgres.

The key is 32 hex digits, so every collation orders it the same way; but under a locale's
collation each comparison goes through the C library (strcoll), and the unique dedup index
compares keys a few dozen times per row stored: about a twentieth of the database's work per
row. Equality, and so the request id filter and ON CONFLICT, read the index as before.

Only the collation changes: no row is rewritten, but the dedup index of every partition is
rebuilt under the table's lock (about a second per million rows); run it in a quiet hour.
SQLite keeps its table.
"""

from django.db import migrations

TABLE = "ingest_request"


def _collate(schema_editor, collation: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'ALTER TABLE {TABLE} ALTER COLUMN dedup_key TYPE varchar(32) COLLATE "{collation}"'
    )


def forward(apps, schema_editor):
    _collate(schema_editor, "C")


def backward(apps, schema_editor):
    _collate(schema_editor, "default")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0013_long_request_ids_only"),
    ]

    operations = [migrations.RunPython(forward, backward)]
