"""project_id in every primary key of the raw tables, so that they can be distributed by
project on Citus (docs/operations.md, "Past one Postgres"; DESIGN principle 7).

The raw table's key goes from (id, ts) to (id, ts, project_id), the sampled keys' from (id) to
(id, project_id); their unique dedup keys already start with project_id. id stays first, so a
lookup by id (a request's page, aggregation's write-back joined on (id, ts)) reads the same
index as before. Django still treats id as the primary key: ids come from one sequence and stay
unique. Rebuilding the key takes the table's lock for as long as the index build (about a
second per million rows here); run it in a quiet hour. SQLite keeps its tables.
"""

from django.db import migrations

KEYS = {
    # table: (key before, key after)
    "ingest_request": ("id, ts", "id, ts, project_id"),
    "ingest_sampled_key": ("id", "id, project_id"),
}


def _rekey(schema_editor, which: int) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, columns in KEYS.items():
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                [table],
            )
            (name,) = cursor.fetchone()
        schema_editor.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} PRIMARY KEY ({columns[which]})"
        )


def forward(apps, schema_editor):
    _rekey(schema_editor, 1)


def backward(apps, schema_editor):
    _rekey(schema_editor, 0)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0010_source_problems_and_recent_batches"),
    ]

    operations = [migrations.RunPython(forward, backward)]
