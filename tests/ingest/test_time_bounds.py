"""DESIGN.md "Time bounds": a record older than CONFLICTWATCH_MAX_RECORD_AGE_DAYS or more than a
day ahead is rejected per record; no partition is ever made outside the kept range, so one
token cannot exhaust Postgres for every project; `importlog --max-age` widens the range for a
backfill, never past the rollup retention."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError
from django.db import connection

from ingest import partitions, time_bounds
from ingest.models import IngestBatch, Request
from ingest.sources import create_source
from monitor.models import StatusRollup
from tests.ingest.test_importlog import importlog
from tests.records import record

NOW = datetime.now(UTC)


def days_from_2001_to_2025(n: int) -> list[date]:
    first, last = date(2001, 1, 1), date(2025, 12, 31)
    step = (last - first) / (n - 1)
    return [first + step * i for i in range(n)]


def old_records(days: list[date], offset: int) -> list[dict]:
    return [
        record(offset + i, ts=f"{day.isoformat()}T12:00:00Z", request_id=f"old-{offset + i}")
        for i, day in enumerate(days)
    ]


def test_records_outside_the_range_are_rejected_one_by_one(post_logs):
    records = [
        record(1),
        record(2, ts=(NOW - timedelta(days=15)).isoformat()),
        record(3, ts=(NOW - timedelta(days=13)).isoformat()),
        record(4, ts=(NOW + timedelta(hours=23)).isoformat()),
        record(5, ts=(NOW + timedelta(hours=25)).isoformat()),
        record(6, ts=0),
    ]
    answer = post_logs(records).json()
    assert (answer["accepted"], answer["rejected"]) == (3, 3)
    assert answer["errors"] == [
        {"index": 1, "error": "ts: older than 14 days"},
        {"index": 4, "error": "ts: more than a day in the future"},
        {"index": 5, "error": "ts: older than 14 days"},
    ]


def test_the_age_follows_the_setting(post_logs, settings):
    settings.CONFLICTWATCH_MAX_RECORD_AGE_DAYS = 3
    answer = post_logs([record(1, ts=(NOW - timedelta(days=4)).isoformat())]).json()
    assert answer["errors"] == [{"index": 0, "error": "ts: older than 3 days"}]


@pytest.mark.postgres
def test_four_hundred_old_days_make_no_partition_and_other_projects_aggregate(
    post_logs, client, django_capture_on_commit_callbacks
):
    if connection.vendor != "postgresql":
        pytest.skip("partitions are Postgres's")
    before = {name for name, _, _ in partitions.existing()}
    _, other_token = create_source("other", "gateway")
    days = days_from_2001_to_2025(400)
    assert len(set(days)) == 400
    for part in range(4):
        chunk = days[part * 100 : (part + 1) * 100]
        answer = post_logs([record(part), *old_records(chunk, 1000 + part * 100)]).json()
        assert (answer["accepted"], answer["rejected"]) == (1, 100)
        assert {e["error"] for e in answer["errors"]} == {"ts: older than 14 days"}
        # Meanwhile, another project's batch is stored and aggregated as usual.
        with django_capture_on_commit_callbacks(execute=True):
            other = client.post(
                "/ingest/v1/logs",
                json.dumps(record(part, request_id=f"other-{part}")),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {other_token}",
            )
        assert other.status_code == 200
    # Only the fresh records' day may have got a partition (yesterday's, in the first hour
    # after midnight); none of the old days did.
    made = [(name, lower) for name, lower, _ in partitions.existing() if name not in before]
    assert all(lower > NOW - timedelta(days=2) for _, lower in made), made
    assert Request.objects.filter(ts__year__lt=2026).count() == 0
    assert not IngestBatch.objects.exclude(status=IngestBatch.Status.DONE).exists()
    assert sum(StatusRollup.objects.filter(project__slug="other").values_list("n", flat=True)) == 4


@pytest.mark.postgres
def test_no_partition_is_made_outside_the_kept_range(db):
    if connection.vendor != "postgresql":
        pytest.skip("partitions are Postgres's")
    first, last = time_bounds.partition_days()
    with pytest.raises(ValueError, match="no partition outside"):
        partitions.ensure([first - timedelta(days=1)])
    with pytest.raises(ValueError, match="no partition outside"):
        partitions.ensure([last + timedelta(days=1)])
    assert partitions.ensure([first]) in ([partitions.name_for(first)], [])


def test_importlog_max_age_widens_the_range_for_a_backfill(db, tmp_path):
    log = tmp_path / "old.ndjson"
    lines = [record(i, ts=(NOW - timedelta(days=20, minutes=i)).isoformat()) for i in range(3)]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out, err = importlog(str(log), "--project", "shop")
    assert "0 accepted, 0 duplicates, 3 rejected" in out
    assert "line 1: ts: older than 14 days" in err
    assert "--max-age DAYS accepts older ones" in err
    out, _ = importlog(str(log), "--project", "shop", "--max-age", "21")
    assert "3 accepted" in out
    assert Request.objects.count() == 3


def test_importlog_max_age_stops_at_the_rollup_retention(db, tmp_path, settings):
    log = tmp_path / "old.ndjson"
    log.write_text(json.dumps(record(1)) + "\n")
    with pytest.raises(CommandError, match="--max-age must be 1 to 35 days"):
        importlog(str(log), "--project", "shop", "--max-age", "36")
    settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS = 60
    out, _ = importlog(str(log), "--project", "shop", "--max-age", "36")
    assert "1 accepted" in out
