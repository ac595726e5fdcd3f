"""Hour and day rollups of the conflict analysis (client, outcome, resource, race pairs),
project-wide latency histograms, and latency histograms three times finer.

- The conflict analysis's eight new tables have the minute tables' columns; their primary key is (id, project_id)
  on Postgres, like every rollup's since 0013 (tests/scale/test_citus_keys.py), and they are
  filled from the minute rows already stored, so an upgraded installation reads the same
  offenders and hotspots at every grain.
- The whole project's latency histograms per minute, hour and day
  (monitor_rollup_project_latency_*), summed from the per-endpoint ones: what an unfiltered
  latency series reads.
- Latency buckets were 10% wide; each is now split in three (monitor/rules/latency.py). A
  stored bucket b becomes 3b - 1, the middle of its three: quantiles of old traffic read about
  as before (within the old 10%), new traffic within 1.6%.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0013_project_in_every_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProjectLatencyDayRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("bucket", models.SmallIntegerField()),
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
                "db_table": "monitor_rollup_project_latency_day",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "bucket"),
                        name="rollup_project_latency_day_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ProjectLatencyHourRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("bucket", models.SmallIntegerField()),
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
                "db_table": "monitor_rollup_project_latency_hour",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "bucket"),
                        name="rollup_project_latency_hour_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ProjectLatencyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("bucket", models.SmallIntegerField()),
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
                "db_table": "monitor_rollup_project_latency_minute",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "bucket"),
                        name="rollup_project_latency_minute_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ClientDayRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("client", models.TextField(default="")),
                ("requests", models.BigIntegerField(default=0)),
                ("conflicts", models.BigIntegerField(default=0)),
                ("suffered", models.BigIntegerField(default=0)),
                ("caused", models.BigIntegerField(default=0)),
                ("writes", models.BigIntegerField(default=0)),
                ("conditional_writes", models.BigIntegerField(default=0)),
                ("weak_etag_writes", models.BigIntegerField(default=0)),
                ("creates", models.BigIntegerField(default=0)),
                ("creates_without_key", models.BigIntegerField(default=0)),
                (
                    "endpoint",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="monitor.endpoint",
                    ),
                ),
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
                "db_table": "monitor_rollup_client_day",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "endpoint", "client"),
                        name="rollup_client_day_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ClientHourRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("client", models.TextField(default="")),
                ("requests", models.BigIntegerField(default=0)),
                ("conflicts", models.BigIntegerField(default=0)),
                ("suffered", models.BigIntegerField(default=0)),
                ("caused", models.BigIntegerField(default=0)),
                ("writes", models.BigIntegerField(default=0)),
                ("conditional_writes", models.BigIntegerField(default=0)),
                ("weak_etag_writes", models.BigIntegerField(default=0)),
                ("creates", models.BigIntegerField(default=0)),
                ("creates_without_key", models.BigIntegerField(default=0)),
                (
                    "endpoint",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="monitor.endpoint",
                    ),
                ),
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
                "db_table": "monitor_rollup_client_hour",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "endpoint", "client"),
                        name="rollup_client_hour_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="OutcomeDayRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("client", models.TextField(default="")),
                ("cause", models.CharField(max_length=32)),
                ("outcome", models.CharField(default="", max_length=16)),
                ("n", models.BigIntegerField(default=0)),
                ("resolved_ms_sum", models.FloatField(default=0)),
                (
                    "endpoint",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="monitor.endpoint",
                    ),
                ),
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
                "db_table": "monitor_rollup_outcome_day",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "endpoint", "client", "cause", "outcome"),
                        name="rollup_outcome_day_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="OutcomeHourRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("client", models.TextField(default="")),
                ("cause", models.CharField(max_length=32)),
                ("outcome", models.CharField(default="", max_length=16)),
                ("n", models.BigIntegerField(default=0)),
                ("resolved_ms_sum", models.FloatField(default=0)),
                (
                    "endpoint",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="monitor.endpoint",
                    ),
                ),
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
                "db_table": "monitor_rollup_outcome_hour",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "endpoint", "client", "cause", "outcome"),
                        name="rollup_outcome_hour_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="RacePairDayRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("resource", models.TextField()),
                ("minute", models.DateTimeField()),
                ("winner", models.TextField(default="")),
                ("loser", models.TextField(default="")),
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
                "db_table": "monitor_rollup_race_day",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "resource", "minute", "winner", "loser"),
                        name="rollup_race_day_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="RacePairHourRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("resource", models.TextField()),
                ("minute", models.DateTimeField()),
                ("winner", models.TextField(default="")),
                ("loser", models.TextField(default="")),
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
                "db_table": "monitor_rollup_race_hour",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "resource", "minute", "winner", "loser"),
                        name="rollup_race_hour_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ResourceDayRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("resource", models.TextField()),
                ("cause", models.CharField(max_length=32)),
                ("n", models.BigIntegerField(default=0)),
                (
                    "endpoint",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="monitor.endpoint",
                    ),
                ),
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
                "db_table": "monitor_rollup_resource_day",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "endpoint", "resource", "cause"),
                        name="rollup_resource_day_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ResourceHourRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("resource", models.TextField()),
                ("cause", models.CharField(max_length=32)),
                ("n", models.BigIntegerField(default=0)),
                (
                    "endpoint",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="monitor.endpoint",
                    ),
                ),
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
                "db_table": "monitor_rollup_resource_hour",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "minute", "endpoint", "resource", "cause"),
                        name="rollup_resource_hour_key",
                    )
                ],
            },
        ),
        migrations.AddIndex(
            model_name="resourcedayrollup",
            index=models.Index(
                fields=["project", "resource", "minute"], name="rollup_resource_day_by_res"
            ),
        ),
        migrations.AddIndex(
            model_name="resourcehourrollup",
            index=models.Index(
                fields=["project", "resource", "minute"], name="rollup_resource_hour_by_res"
            ),
        ),
    ]


NEW_TABLES = [
    f"monitor_rollup_{kind}_{grain}"
    for kind in ("client", "outcome", "resource", "race")
    for grain in ("hour", "day")
] + [f"monitor_rollup_project_latency_{grain}" for grain in ("minute", "hour", "day")]
# table kind -> (key columns other than the time, value columns)
COLUMNS = {
    "client": (
        "project_id, endpoint_id, client",
        "requests, conflicts, suffered, caused, writes, conditional_writes, weak_etag_writes, "
        "creates, creates_without_key",
    ),
    "outcome": ("project_id, endpoint_id, client, cause, outcome", "n, resolved_ms_sum"),
    "resource": ("project_id, endpoint_id, resource, cause", "n"),
    "race": ("project_id, resource, winner, loser", "n"),
}
LATENCY_TABLES = [f"monitor_rollup_latency_{grain}" for grain in ("minute", "hour", "day")]


def _trunc(vendor: str, grain: str) -> str:
    if vendor == "postgresql":
        return f"date_trunc('{grain}', minute)"
    fmt = "%Y-%m-%d %H:00:00" if grain == "hour" else "%Y-%m-%d 00:00:00"
    return f"strftime('{fmt}', minute)"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in NEW_TABLES:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT conname FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'p'",
                    [table],
                )
                (name,) = cursor.fetchone()
            schema_editor.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
                f"ADD CONSTRAINT {name} PRIMARY KEY (id, project_id)"
            )
    for kind, (keys, values) in COLUMNS.items():
        sums = ", ".join(f"SUM({v})" for v in values.split(", "))
        for grain in ("hour", "day"):
            t = _trunc(vendor, grain)
            schema_editor.execute(
                f"INSERT INTO monitor_rollup_{kind}_{grain} ({keys}, minute, {values}) "
                f"SELECT {keys}, {t}, {sums} FROM monitor_rollup_{kind}_minute "
                f"GROUP BY {keys}, {t}"
            )
    # Two steps, so that no row takes a bucket number another row still holds.
    for table in LATENCY_TABLES:
        schema_editor.execute(f"UPDATE {table} SET bucket = -bucket - 1")
        schema_editor.execute(
            f"UPDATE {table} SET bucket = CASE WHEN bucket = -1 THEN 0 "
            f"ELSE (-bucket - 1) * 3 - 1 END"
        )
    # The whole project's histograms: the per-endpoint ones summed, at every grain.
    for grain in ("minute", "hour", "day"):
        schema_editor.execute(
            f"INSERT INTO monitor_rollup_project_latency_{grain} (project_id, minute, bucket, n) "
            f"SELECT project_id, minute, bucket, SUM(n) FROM monitor_rollup_latency_{grain} "
            "GROUP BY project_id, minute, bucket"
        )


def backward(apps, schema_editor):
    # Back to 10% buckets: the three finer buckets of one earlier bucket add up in it.
    for table in LATENCY_TABLES:
        keys = "project_id, minute, endpoint_id"
        coarse = "CASE WHEN bucket = 0 THEN 0 ELSE (bucket + 2) / 3 END"
        schema_editor.execute(
            f"CREATE TEMPORARY TABLE latency_back AS SELECT {keys}, {coarse} AS bucket, "
            f"SUM(n) AS n FROM {table} GROUP BY {keys}, {coarse}"
        )
        schema_editor.execute(f"DELETE FROM {table}")
        schema_editor.execute(
            f"INSERT INTO {table} ({keys}, bucket, n) SELECT {keys}, bucket, n FROM latency_back"
        )
        schema_editor.execute("DROP TABLE latency_back")


Migration.operations.append(migrations.RunPython(forward, backward))
