"""The raw table's index by request id only for ids that may have been cut (128 characters or
more): every other row is found by its dedup key, which is made from its request id
(monitor/reads/requests.py: with_request_id). The full index was about a quarter of the
database's work per row stored. On a partitioned table both statements apply to every
partition; the new index reads each partition once and holds only long ids.
"""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0012_raw_rows_without_foreign_key_checks"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="request",
            name="request_request_id",
        ),
        migrations.AddIndex(
            model_name="request",
            index=models.Index(
                condition=models.Q(
                    django.db.models.lookups.GreaterThanOrEqual(
                        django.db.models.functions.text.Length("request_id"), 128
                    )
                ),
                fields=["project", "request_id"],
                name="request_long_request_id",
            ),
        ),
    ]
