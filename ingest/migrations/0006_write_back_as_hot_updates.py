"""Aggregation's write-back onto stored conflicts as HOT updates (ingest/models.py).

The indexes on `race_winner` and on pending `retry_outcome` go (a winner's losers are found
through the conflict resource index, pending outcomes through the outcome rollup), and the
raw table's pages keep free space (ingest/partitions.py: FILLFACTOR). Existing pages keep
theirs until rewritten; rows stored from now on get it. `next_attempt_ms` records when the
write that decided a conflict's outcome came, so that later batches pass over it.
"""

from django.db import migrations, models

FILLFACTOR = 90


def keep_free_space(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        # The daily partitions, or the table itself when it is not partitioned.
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND (c.relname = "
            "'ingest_request' OR c.oid IN (SELECT inhrelid FROM pg_inherits "
            "WHERE inhparent = 'ingest_request'::regclass))"
        )
        tables = [name for (name,) in cursor.fetchall()]
    for name in tables:
        schema_editor.execute(f"ALTER TABLE {name} SET (fillfactor = {FILLFACTOR})")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0005_conflict_endpoint_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="request",
            name="request_race_winner",
        ),
        migrations.RemoveIndex(
            model_name="request",
            name="request_outcome_pending",
        ),
        migrations.AddField(
            model_name="request",
            name="next_attempt_ms",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.RunPython(keep_free_space, migrations.RunPython.noop),
    ]
