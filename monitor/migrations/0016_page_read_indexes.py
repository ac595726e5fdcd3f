"""Indexes for the endpoint and client pages.

By endpoint: the endpoint page's totals, charts, heatmap and hotspots read one endpoint's
status, latency and resource rollups over a range. Without them Postgres read the range's rows
of every endpoint (the unique keys lead with the minute) or every minute of the endpoint (the
foreign key's index): 250 ms for a day of one endpoint's latency minutes at 10 million raw
rows, 20 ms with the covering index (bench/pages.py).

By winner and by loser: the client page's rivals read one client's races over a range instead
of every race of the range (30-40 ms to under 1 ms at 10 million raw rows).

SQLite ignores INCLUDE.
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
            model_name='racepairdayrollup',
            index=models.Index(fields=['project', 'winner', 'minute'], include=('loser', 'n'), name='rollup_race_day_by_winner'),
        ),
        migrations.AddIndex(
            model_name='racepairdayrollup',
            index=models.Index(fields=['project', 'loser', 'minute'], include=('winner', 'n'), name='rollup_race_day_by_loser'),
        ),
        migrations.AddIndex(
            model_name='racepairhourrollup',
            index=models.Index(fields=['project', 'winner', 'minute'], include=('loser', 'n'), name='rollup_race_hour_by_winner'),
        ),
        migrations.AddIndex(
            model_name='racepairhourrollup',
            index=models.Index(fields=['project', 'loser', 'minute'], include=('winner', 'n'), name='rollup_race_hour_by_loser'),
        ),
        migrations.AddIndex(
            model_name='racepairrollup',
            index=models.Index(fields=['project', 'winner', 'minute'], include=('loser', 'n'), name='rollup_race_minute_by_winner'),
        ),
        migrations.AddIndex(
            model_name='racepairrollup',
            index=models.Index(fields=['project', 'loser', 'minute'], include=('winner', 'n'), name='rollup_race_minute_by_loser'),
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
