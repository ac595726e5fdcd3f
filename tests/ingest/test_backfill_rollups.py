"""A backfill aggregates its batches together, some tens at a time: every rollup and every
conflict's analysis must come out as the batch-by-batch aggregation of HTTP ingest makes them,
and a backfill stopped part way must leave nothing counted twice and nothing lost."""

import io
import json
import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from ingest import backfill as backfill_module
from ingest.backfill import Summary, _batches, backfill, import_batch, open_log
from ingest.lookalikes import FileOccurrences
from ingest.models import IngestBatch, Request
from ingest.normalize import ProjectRules
from monitor.models import Endpoint, ProjectP95Minute, ResourceTotalDayRollup
from monitor.pipeline import aggregate
from monitor.pipeline import rollups as rollups_module
from monitor.pipeline.rollups import MODELS_BY_GRAIN
from monitor.rules.causes import CONFLICT_STATUSES
from monitor.rules.outcomes import RETRY_HORIZON
from tests.monitor.conflict_records import T0, rec

BATCH = 40
ROLLUP_MODELS = [m for grains in MODELS_BY_GRAIN for m in grains] + [
    ResourceTotalDayRollup,
    ProjectP95Minute,
]


def conflicted_log(lines: int = 900, seed: int = 11) -> bytes:
    """Native NDJSON records over some 70 minutes (across an hour), few resources and clients
    so that races, retries, creates and cause moves happen across batches; slightly out of
    order, as logs merged from several servers are."""
    rng = random.Random(seed)
    # A write within a minute or two of the end of its retry horizon when the test runs is
    # `pending` for one aggregation and `abandoned` for the next, seconds later (the outcomes
    # depend on the time): such a record is moved four minutes later, past that window, so
    # that the two runs compared see the same.
    settled = datetime.now(UTC) - RETRY_HORIZON
    out = []
    for i in range(lines):
        seconds = i * 4.7 + rng.uniform(-20, 20)
        if abs(T0 + timedelta(seconds=seconds) - settled) < timedelta(minutes=2):
            seconds += 240
        method = rng.choice(["GET", "GET", "PUT", "PUT", "PATCH", "POST", "DELETE"])
        resource = rng.randrange(1, 9)
        path = "/v1/orders" if method == "POST" else f"/v1/orders/{resource}"
        if method == "GET":
            status = rng.choice([200, 200, 304, 404])
        else:
            status = rng.choice([200, 200, 201, 409, 409, 412, 428])
        extra = {"duration_ms": round(rng.uniform(1, 900), 3)}
        headers = {}
        if method in ("PUT", "PATCH", "DELETE") and rng.random() < 0.5:
            headers["If-Match"] = rng.choice(['"v1"', '"v2"', 'W/"v3"'])
        if method == "POST" and rng.random() < 0.5:
            headers["Idempotency-Key"] = f"k{rng.randrange(30)}"
        if headers:
            extra["request_headers"] = headers
        if status == 409 and rng.random() < 0.3:
            extra["response_body"] = rng.choice(["version mismatch", "already exists"])
        record = rec(round(seconds, 3), method, path, status, f"c{rng.randrange(5)}", **extra)
        record["request_id"] = f"r{i}"
        out.append(json.dumps(record))
    return ("\n".join(out) + "\n").encode()


def batch_by_batch(project, data: bytes, capture) -> None:
    """The reference: each batch aggregated after its commit, as HTTP ingest's are."""
    rules = ProjectRules.for_project(project)
    summary, occurrences = Summary(), FileOccurrences()
    for batch in _batches(open_log(io.BytesIO(data)), BATCH, 1 << 24, summary):
        with capture(execute=True):
            import_batch(project, rules, batch, None, occurrences, summary)


def rollups(project) -> dict:
    """Every rollup row of the project, endpoints named by (method, route), sums rounded."""
    names = {e.id: (e.method, e.route) for e in Endpoint.objects.filter(project=project)}
    found = {}
    for model in ROLLUP_MODELS:
        rows = []
        for row in model.objects.filter(project=project).values():
            row.pop("id", None)
            row.pop("project_id")
            if "endpoint_id" in row:
                row["endpoint_id"] = names[row["endpoint_id"]]
            rows.append(
                tuple(
                    sorted((k, round(v, 6) if isinstance(v, float) else v) for k, v in row.items())
                )
            )
        found[model._meta.db_table] = sorted(rows, key=repr)
    return found


def analysed(project) -> dict:
    """Each stored request's analysis columns, by request id."""
    winners = dict(Request.objects.filter(project=project).values_list("id", "request_id"))
    return {
        row["request_id"]: (
            row["cause"],
            row["cause_reason"],
            winners.get(row["race_winner_id"]),
            row["retry_outcome"],
            row["resolved_after_ms"],
            row["next_attempt_ms"],
        )
        for row in Request.objects.filter(project=project).values()
    }


def same_as_batch_by_batch(reference, project) -> None:
    assert not IngestBatch.objects.filter(
        project=project, status=IngestBatch.Status.PENDING
    ).exists()
    expected, got = rollups(reference), rollups(project)
    for table in expected:
        assert got[table] == expected[table], table
    assert analysed(project) == analysed(reference)


@pytest.fixture
def log_data():
    return conflicted_log()


@pytest.fixture
def reference(db, django_capture_on_commit_callbacks, log_data):
    from monitor.models import Project

    project = Project.objects.create(slug="reference", name="reference")
    batch_by_batch(project, log_data, django_capture_on_commit_callbacks)
    counted = sum(r[-1] for r in _status_counts(project))
    assert counted == len(log_data.splitlines())
    assert Request.objects.filter(project=project, cause__isnull=False).exists()
    return project


def _status_counts(project):
    from monitor.models import StatusRollup

    return StatusRollup.objects.filter(project=project).values_list("status", "n")


@pytest.fixture
def fast(db):
    from monitor.models import Project

    return Project.objects.create(slug="fast", name="fast")


def test_the_data_has_what_the_analysis_moves(reference):
    causes = set(Request.objects.filter(project=reference).values_list("cause", flat=True))
    assert {"concurrent_write"} <= causes
    assert Request.objects.filter(project=reference, race_winner__isnull=False).exists()


@pytest.mark.parametrize("copy_from", [rollups_module.COPY_FROM, 1])
def test_a_backfill_counts_every_rollup_as_batch_by_batch_aggregation_does(
    reference, fast, log_data, monkeypatch, copy_from
):
    # Past COPY_FROM counts, a table's are COPYed (on Postgres) rather than sent as arrays.
    monkeypatch.setattr(rollups_module, "COPY_FROM", copy_from)
    summary = backfill(fast, io.BytesIO(log_data), None, batch_size=BATCH, aggregate_every=300)
    assert summary.accepted == len(log_data.splitlines())
    same_as_batch_by_batch(reference, fast)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_aggregations_run_apart_from_the_storing_count_as_batch_by_batch_aggregation_does(
    reference, fast, log_data, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("aggregation apart is Postgres's")
    threads = []
    real = backfill_module._aggregate_apart

    def recorded(ids):
        threads.append(threading.get_ident())
        real(ids)

    monkeypatch.setattr(backfill_module, "_aggregate_apart", recorded)
    summary = backfill(fast, io.BytesIO(log_data), None, batch_size=BATCH, aggregate_every=300)
    assert summary.accepted == len(log_data.splitlines())
    # Every aggregation ran in a thread of its own, none in the importing one.
    assert len(threads) == 3
    assert threading.get_ident() not in threads
    same_as_batch_by_batch(reference, fast)


def test_a_backfill_dense_with_conflicts_aggregates_them_a_few_at_a_time(
    reference, fast, log_data, monkeypatch
):
    # Every conflict an aggregation analyses stays locked until it commits, and a live batch
    # deciding conflicts on the same resources waits that long: the transactions of a backfill
    # are kept short by the conflicts they hold as well as by their records.
    groups = []
    real = backfill_module._aggregate

    def recorded(ids):
        groups.append(ids)
        real(ids)

    monkeypatch.setattr(backfill_module, "_aggregate", recorded)
    summary = backfill(
        fast,
        io.BytesIO(log_data),
        None,
        batch_size=BATCH,
        aggregate_every=10**6,
        conflicts_every=100,
    )
    assert summary.accepted == len(log_data.splitlines())
    conflicts = Counter(
        Request.objects.filter(project=fast, status__in=CONFLICT_STATUSES).values_list(
            "batch_id", flat=True
        )
    )
    assert len(groups) > 2
    for ids in groups[:-1]:
        assert sum(conflicts[i] for i in ids[:-1]) < 100 <= sum(conflicts[i] for i in ids)
    same_as_batch_by_batch(reference, fast)


def test_a_backfill_stopped_by_an_error_counts_what_it_stored_once(
    reference, fast, log_data, monkeypatch
):
    stored = []
    real_store = backfill_module.store

    def failing_store(*args, **kwargs):
        if len(stored) == 13:  # between two aggregations
            raise RuntimeError("disk full")
        stored.append(1)
        return real_store(*args, **kwargs)

    monkeypatch.setattr(backfill_module, "store", failing_store)
    with pytest.raises(RuntimeError):
        backfill(fast, io.BytesIO(log_data), None, batch_size=BATCH, aggregate_every=300)
    # What was stored is counted, nothing is left pending.
    assert not IngestBatch.objects.filter(project=fast, status="pending").exists()
    assert Request.objects.filter(project=fast).count() == 13 * BATCH
    monkeypatch.setattr(backfill_module, "store", real_store)
    summary = backfill(fast, io.BytesIO(log_data), None, batch_size=BATCH, aggregate_every=300)
    assert summary.duplicates == 13 * BATCH
    same_as_batch_by_batch(reference, fast)


@pytest.mark.parametrize("recovery", ["next run", "normal aggregation"])
def test_batches_a_killed_backfill_left_pending_are_counted_once(
    reference, fast, log_data, monkeypatch, recovery
):
    # The process dies before its aggregations: its batches stay pending, nothing counted.
    monkeypatch.setattr(backfill_module.PendingBatches, "aggregate", lambda self: None)
    backfill(fast, io.BytesIO(log_data), None, batch_size=BATCH, aggregate_every=300)
    monkeypatch.undo()
    pending = IngestBatch.objects.filter(project=fast, status="pending")
    assert pending.count() == len(log_data.splitlines()) // BATCH + 1
    assert not _status_counts(fast).exists()
    if recovery == "next run":
        summary = backfill(fast, io.BytesIO(log_data), None, batch_size=BATCH)
        assert summary.accepted == 0
    else:
        for batch_id in pending.order_by("id").values_list("id", flat=True):
            aggregate.aggregate_batch(batch_id)
    same_as_batch_by_batch(reference, fast)


def test_an_aggregation_that_fails_falls_back_to_one_batch_at_a_time(
    reference, fast, log_data, monkeypatch, django_capture_on_commit_callbacks
):
    real = aggregate._mark_done
    calls = []

    def failing_once(batches):
        calls.append(len(batches))
        if len(calls) == 2:
            raise RuntimeError("lost the connection")
        return real(batches)

    monkeypatch.setattr(aggregate, "_mark_done", failing_once)
    with django_capture_on_commit_callbacks(execute=True):
        backfill(fast, io.BytesIO(log_data), None, batch_size=BATCH, aggregate_every=300)
    assert calls[1] > 1  # the second aggregation held several batches, and was rolled back
    same_as_batch_by_batch(reference, fast)


def test_a_race_across_two_batches_of_one_aggregation_is_counted_once_with_no_zero(
    fast, django_capture_on_commit_callbacks
):
    from monitor.models import OutcomeRollup, Project, ResourceRollup, StatusRollup

    # The winner's batch comes after the loser's, both aggregated together (and, for the
    # reference, one at a time: the loser counted `unknown`, then moved).
    loser = rec(1.5, "PATCH", "/v1/orders/7", 409, "mobile", response_body="changed meanwhile")
    winner = rec(0, "PATCH", "/v1/orders/7", 200, "billing")
    data = (json.dumps(loser) + "\n" + json.dumps(winner) + "\n").encode()
    reference = Project.objects.create(slug="one-by-one", name="one-by-one")
    with django_capture_on_commit_callbacks(execute=True):
        backfill(reference, io.BytesIO(data), None, batch_size=1, aggregate_every=1)
    backfill(fast, io.BytesIO(data), None, batch_size=1)
    assert Request.objects.get(project=fast, status=409).cause == "concurrent_write"
    for model in (StatusRollup, ResourceRollup, OutcomeRollup):
        assert not model.objects.filter(project=fast, n=0).exists(), model
    same_as_batch_by_batch(reference, fast)


@pytest.mark.postgres
@pytest.mark.parametrize("rereadable", [True, False])
def test_only_a_stream_that_can_be_read_again_commits_without_waiting_for_the_log(
    fast, log_data, rereadable
):
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is Postgres's")

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    during = set()
    backfill(
        fast,
        io.BytesIO(log_data),
        None,
        batch_size=BATCH,
        rereadable=rereadable,
        progress=lambda lines: during.add(setting()),
    )
    assert during == ({"off"} if rereadable else {"on"})
    assert setting() == "on"
