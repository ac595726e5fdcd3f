"""project_id in every primary key of the rollup tables, so that they can be distributed by
project on Citus (docs/operations.md, "Past one Postgres"; DESIGN principle 7).

Each key goes from (id) to (id, project_id); every rollup's unique key already starts with
project_id, and its upserts conflict on that key, not on id. Django still treats id as the
primary key: ids come from one sequence and stay unique. SQLite keeps its tables.
"""

from django.db import migrations

TABLES = [
    f"monitor_rollup_{kind}_{grain}"
    for kind in ("status", "latency")
    for grain in ("minute", "hour", "day")
] + [
    "monitor_rollup_client_minute",
    "monitor_rollup_outcome_minute",
    "monitor_rollup_resource_minute",
    "monitor_rollup_race_minute",
]


def _rekey(schema_editor, columns: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                [table],
            )
            (name,) = cursor.fetchone()
        schema_editor.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} PRIMARY KEY ({columns})"
        )


def forward(apps, schema_editor):
    _rekey(schema_editor, "id, project_id")


def backward(apps, schema_editor):
    _rekey(schema_editor, "id")


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0010_routes_learned_imported_and_bounded"),
    ]

    operations = [migrations.RunPython(forward, backward)]
