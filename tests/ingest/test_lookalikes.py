"""DESIGN.md principle 3: byte-identical lines without a request id are distinct requests
(numbered within their batch or file), and the same body or file delivered again is stored once."""

import gzip
from datetime import UTC, datetime, timedelta

import pytest

from ingest.lookalikes import BatchOccurrences, FileOccurrences
from ingest.models import Request
from ingest.normalize import normalize
from tests.ingest.test_importlog import importlog

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def combined_line(second: int, path: str, client: str = "acme") -> str:
    when = (START + timedelta(seconds=second)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'203.0.113.7 - {client} [{when}] "POST {path} HTTP/1.1" 201 48 "-" "shop-app/3.1"'


def access_log() -> str:
    """50 pairs of byte-identical lines (the same client POSTing twice in a second) among 100
    unique lines: 200 requests."""
    lines = []
    for i in range(50):
        pair = combined_line(i, "/v1/carts/7/items")
        lines += [pair, pair]
        lines += [combined_line(i, f"/v1/orders/{i}"), combined_line(i, f"/v1/orders/{i}", "bob")]
    return "\n".join(lines) + "\n"


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(access_log())
    return path


def test_the_log_has_fifty_identical_pairs_and_a_hundred_unique_lines():
    lines = access_log().splitlines()
    assert len(lines) == 200
    assert len(set(lines)) == 150


def test_importlog_stores_every_line_and_nothing_on_a_second_run(db, log):
    out, _ = importlog(str(log), "--project", "shop", "--format", "nginx", "--batch-size", "7")
    assert "200 lines, 200 accepted, 0 duplicates, 0 rejected" in out
    out, _ = importlog(str(log), "--project", "shop", "--format", "nginx")
    assert "200 lines, 0 accepted, 200 duplicates, 0 rejected" in out
    assert Request.objects.count() == 200
    assert Request.objects.filter(path="/v1/carts/7/items").count() == 100


def test_a_gzipped_copy_of_the_file_stores_nothing_more(db, log, tmp_path):
    importlog(str(log), "--project", "shop", "--format", "nginx")
    packed = tmp_path / "access.log.1.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))
    out, _ = importlog(str(packed), "--project", "shop", "--format", "nginx", "--batch-size", "3")
    assert "0 accepted, 200 duplicates" in out


def test_http_stores_every_line_and_nothing_when_the_body_is_posted_again(post_logs):
    first = post_logs(access_log(), fmt="nginx", content_type="text/plain").json()
    assert (first["accepted"], first["duplicates"]) == (200, 0)
    again = post_logs(access_log(), fmt="nginx", content_type="text/plain").json()
    assert (again["accepted"], again["duplicates"]) == (0, 200)
    assert Request.objects.count() == 200


def test_a_file_imported_then_posted_stores_nothing_more(post_logs, log):
    importlog(str(log), "--project", "shop", "--format", "nginx")
    again = post_logs(access_log(), fmt="nginx", content_type="text/plain").json()
    assert (again["accepted"], again["duplicates"]) == (0, 200)


def test_records_with_a_request_id_are_not_numbered():
    rec = {"ts": START.isoformat(), "method": "GET", "path": "/x", "status": 200}
    same_id = [normalize(rec | {"request_id": "r-1"}) for _ in range(2)]
    look_alikes = [normalize(rec) for _ in range(3)]
    BatchOccurrences().number(same_id + look_alikes)
    assert same_id[0].dedup_key == same_id[1].dedup_key  # a resend
    assert len({r.dedup_key for r in look_alikes}) == 3


def test_file_numbering_matches_batch_numbering_and_continues_across_batches():
    rec = {"ts": START.isoformat(), "method": "GET", "path": "/x", "status": 200}
    in_one_batch = [normalize(rec) for _ in range(5)]
    BatchOccurrences().number(in_one_batch)
    across_batches = [normalize(rec) for _ in range(5)]
    occurrences = FileOccurrences()
    occurrences.number(across_batches[:2])
    occurrences.number(across_batches[2:])
    assert [r.dedup_key for r in across_batches] == [r.dedup_key for r in in_one_batch]
