"""The raw request table partitioned by UTC day on Postgres (ingest/partitions.py).

The existing table is converted without losing rows: a partitioned table is created beside it
with the same columns, a partition for every day its rows cover, the rows copied, the old table
dropped and the new one renamed; then the model's constraints and indexes are created on it
(Postgres creates them on every partition, present and future). The primary key becomes
(id, ts) — a unique key of a partitioned table must hold the partition key — and ids go on from
the old sequence. The race winner's self-reference loses its database constraint (it could not
reference id alone any more). Copying takes a lock on the table for as long as it lasts: on a
large installation run it in a quiet hour. SQLite keeps one table.
"""

import datetime

import django.db.models.deletion
from django.db import migrations, models

OLD = "ingest_request_unpartitioned"
SEQ = "ingest_request_id_seq_by_day"


def convert(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'ingest_request'")
        if cursor.fetchone()[0] == "p":
            return
        run(f"ALTER TABLE ingest_request RENAME TO {OLD}")
        run(f"CREATE TABLE ingest_request (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (ts)")
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {OLD}")
        last_id = cursor.fetchone()[0]
        run(f"CREATE SEQUENCE {SEQ} AS bigint OWNED BY ingest_request.id")
        if last_id:
            cursor.execute("SELECT setval(%s, %s)", [SEQ, last_id])
        run(f"ALTER TABLE ingest_request ALTER COLUMN id SET DEFAULT nextval('{SEQ}')")
        cursor.execute(
            f"SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM {OLD} "
            "UNION SELECT (now() AT TIME ZONE 'UTC')::date + i FROM generate_series(0, 2) AS i"
        )
        days = sorted(row[0] for row in cursor.fetchall())
        for day in days:
            upper = day + datetime.timedelta(days=1)
            run(
                f"CREATE TABLE ingest_request_p{day:%Y%m%d} PARTITION OF ingest_request "
                f"FOR VALUES FROM ('{day.isoformat()} 00:00:00+00') "
                f"TO ('{upper.isoformat()} 00:00:00+00')"
            )
        run(f"INSERT INTO ingest_request SELECT * FROM {OLD}")
        run(f"DROP TABLE {OLD}")
    run("ALTER TABLE ingest_request ADD CONSTRAINT ingest_request_pkey PRIMARY KEY (id, ts)")
    model = apps.get_model("ingest", "Request")
    for name, target in (
        ("project_id", "monitor_project"),
        ("endpoint_id", "monitor_endpoint"),
        ("batch_id", "ingest_ingestbatch"),
    ):
        run(
            f"ALTER TABLE ingest_request ADD CONSTRAINT ingest_request_{name}_fk "
            f"FOREIGN KEY ({name}) REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
        )
    for constraint in model._meta.constraints:
        schema_editor.add_constraint(model, constraint)
    for index in model._meta.indexes:
        schema_editor.add_index(model, index)


class Migration(migrations.Migration):
    # One transaction (Postgres DDL is transactional): a failure leaves the old table as it was.
    dependencies = [
        ("ingest", "0002_conflict_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="request",
            name="race_winner",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="race_losers",
                to="ingest.request",
            ),
        ),
        migrations.RunPython(convert, migrations.RunPython.noop),
    ]
