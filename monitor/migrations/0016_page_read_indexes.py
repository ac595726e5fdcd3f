"""Indexes by endpoint for the endpoint page: its totals, charts, heatmap and hotspots read
one endpoint's status, latency and resource rollups over a range. Without them Postgres read
the range's rows of every endpoint (the unique keys lead with the minute) or every minute of
the endpoint (the foreign key's index): 250 ms for a day of one endpoint's latency minutes at
10 million raw rows, 20 ms with the covering index (bench/pages.py). SQLite ignores INCLUDE.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('monitor', '0015_conflict_rollups_by_hour_and_day'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='latencyhourrollup',
            index=models.Index(fields=['project', 'endpoint', 'minute'], include=('bucket', 'n'), name='rollup_latency_hour_by_ep'),
        ),
        migrations.AddIndex(
            model_name='latencyrollup',
            index=models.Index(fields=['project', 'endpoint', 'minute'], include=('bucket', 'n'), name='rollup_latency_minute_by_ep'),
        ),
        migrations.AddIndex(
            model_name='resourcedayrollup',
            index=models.Index(fields=['project', 'endpoint', 'minute'], include=('resource', 'cause', 'n'), name='rollup_resource_day_by_ep'),
        ),
        migrations.AddIndex(
            model_name='resourcehourrollup',
            index=models.Index(fields=['project', 'endpoint', 'minute'], include=('resource', 'cause', 'n'), name='rollup_resource_hour_by_ep'),
        ),
        migrations.AddIndex(
            model_name='resourcerollup',
            index=models.Index(fields=['project', 'endpoint', 'minute'], include=('resource', 'cause', 'n'), name='rollup_resource_minute_by_ep'),
        ),
        migrations.AddIndex(
            model_name='statusrollup',
            index=models.Index(fields=['project', 'endpoint', 'minute'], name='rollup_status_minute_by_ep'),
        ),
    ]
