"""The hostile corpus (tests/ingest/hostile_corpus.py) through every door: HTTP native, HTTP
nginx (JSON log lines and `combined` lines), OTLP and `importlog`. Whatever the database would
refuse is refused or bounded per record: the good records of the batch are stored and counted,
the bad ones are named in `errors`, no answer is a 5xx, `importlog` exits 0, and aggregation
counts every stored record (race pairs included)."""

import json

import pytest

from ingest.models import IngestBatch, Request
from ingest.normalize import MAX_CLIENT_BYTES, MAX_RESOURCE_BYTES, MAX_ROUTE
from monitor.models import Endpoint, RacePairRollup, StatusRollup
from tests.ingest.hostile_corpus import LONG_RESOURCE, for_door, render
from tests.ingest.test_importlog import importlog

OTLP = "/ingest/otlp/v1/traces"


def body_of(door: str, cases) -> tuple[str, str, str | None]:
    """(body, content type, ?format=) of the cases for a door of /ingest/v1/logs."""
    rendered = render(door, cases)
    if door == "combined":
        return "\n".join(rendered), "text/plain", "nginx"
    return "\n".join(json.dumps(r) for r in rendered), "application/x-ndjson", door


def assert_stored(cases) -> None:
    """The stored cases are all stored, with bounded fields, and counted by aggregation."""
    stored = [case for case in cases if case.error is None]
    assert Request.objects.count() == len(stored)
    for row in Request.objects.all():
        assert len(row.route) <= MAX_ROUTE
        assert len(row.resource.encode()) <= MAX_RESOURCE_BYTES
        assert row.client is None or len(row.client.encode()) <= MAX_CLIENT_BYTES
    for endpoint in Endpoint.objects.all():
        assert len(endpoint.route) <= MAX_ROUTE
    assert not IngestBatch.objects.exclude(status=IngestBatch.Status.DONE).exists()
    assert sum(StatusRollup.objects.values_list("n", flat=True)) == len(stored)
    # The conflict on the long resource was lost to the other long client's write.
    (pair,) = RacePairRollup.objects.all()
    assert pair.resource.startswith(LONG_RESOURCE[:500])
    assert pair.winner.startswith("\U0001f600") and pair.loser.startswith("\U0001f47e")
    long_ids = Request.objects.filter(request_id__startswith="rrrr").count()
    assert long_ids == sum(1 for c in stored if (c.request.get("request_id") or "")[:4] == "rrrr")


@pytest.mark.parametrize("door", ["native", "nginx", "combined"])
def test_http_stores_the_good_records_and_names_the_bad(post_logs, door):
    cases = for_door(door)
    body, content_type, fmt = body_of(door, cases)
    response = post_logs(body, fmt=fmt, content_type=content_type)
    assert response.status_code == 200, response.content[:500]
    answer = response.json()
    errors = {e["index"]: e["error"] for e in answer["errors"]}
    for index, case in enumerate(cases):
        if case.error is None:
            assert index not in errors, (case.name, errors.get(index))
        else:
            assert errors[index].startswith(case.error), (case.name, errors[index])
    rejected = sum(1 for case in cases if case.error)
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (
        len(cases) - rejected,
        0,
        rejected,
    )
    assert_stored(cases)


def test_the_look_alikes_are_two_requests_and_a_resent_body_is_stored_once(post_logs):
    cases = for_door("combined")
    body, content_type, fmt = body_of("combined", cases)
    first = post_logs(body, fmt=fmt, content_type=content_type).json()
    again = post_logs(body, fmt=fmt, content_type=content_type).json()
    assert again["accepted"] == 0
    assert again["duplicates"] == first["accepted"]
    assert Request.objects.filter(path="/v1/orders/11").count() == 2


def test_otlp_stores_the_good_spans_and_names_the_bad(
    client, token, django_capture_on_commit_callbacks
):
    cases = for_door("otlp")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            OTLP,
            json.dumps(render("otlp", cases)),
            content_type="application/json",
            HTTP_X_CONFLICTWATCH_TOKEN=token,
        )
    assert response.status_code == 200, response.content[:500]
    partial = response.json()["partialSuccess"]
    bad = [(i, case) for i, case in enumerate(cases) if case.error]
    assert int(partial["rejectedSpans"]) == len(bad)
    for index, case in bad:
        assert f"span {index + 1:016x}: {case.error}" in partial["errorMessage"]
    assert_stored(cases)


@pytest.mark.parametrize("door", ["native", "combined"])
def test_importlog_stores_the_good_lines_names_the_bad_and_exits_0(
    shop, door, tmp_path, django_capture_on_commit_callbacks
):
    cases = for_door(door)
    body, _, fmt = body_of(door, cases)
    log = tmp_path / "hostile.log"
    log.write_text(body + "\n")
    with django_capture_on_commit_callbacks(execute=True):
        out, err = importlog(str(log), "--project", "shop", "--format", fmt, "--batch-size", "4")
    rejected = sum(1 for case in cases if case.error)
    assert f"{len(cases) - rejected} accepted, 0 duplicates, {rejected} rejected" in out
    for number, case in enumerate(cases, start=1):
        if case.error:
            assert f"line {number}: {case.error}" in err
    assert "--max-age DAYS accepts older ones" in err
    assert_stored(cases)
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = importlog(str(log), "--project", "shop", "--format", fmt, "--batch-size", "3")
    assert f"0 accepted, {len(cases) - rejected} duplicates" in out
