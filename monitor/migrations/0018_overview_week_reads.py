"""Resource conflicts per day, every endpoint and cause together (monitor_rollup_resource_total_day).

The overview's hotspots rank every resource with conflicts in the range. Over a week that
summed about 90,000 resource day rows (one per resource, endpoint, cause and day) at 10 million
raw rows; the totals hold one row per resource and day, a third as many
(docs/architecture.md, "Main after the merges").

The primary key is (id, project_id) on Postgres, like every rollup's since 0013
(tests/scale/test_citus_keys.py). The table is filled from the resource day rows already
stored, so an upgraded installation ranks the same hotspots.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "monitor_rollup_resource_total_day"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                [TABLE],
            )
            (name,) = cursor.fetchone()
        schema_editor.execute(
            f"ALTER TABLE {TABLE} DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} PRIMARY KEY (id, project_id)"
        )
    schema_editor.execute(
        f"INSERT INTO {TABLE} (project_id, minute, resource, n) "
        "SELECT project_id, minute, resource, SUM(n) FROM monitor_rollup_resource_day "
        "GROUP BY project_id, minute, resource"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0017_p95_minute_reads"),
    ]

    operations = [
        migrations.CreateModel(
            name="ResourceTotalDayRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("resource", models.TextField()),
                ("n", models.BigIntegerField(default=0)),
                (
                    "project",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="monitor.project",
                    ),
                ),
            ],
            options={
                "db_table": TABLE,
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "resource"),
                        name="rollup_resource_total_day_key",
                    )
                ],
            },
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
