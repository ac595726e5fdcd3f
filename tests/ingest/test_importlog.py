"""manage.py importlog: backfill a log file or stdin through the ingest path, safely twice."""

import gzip
import io
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from ingest.models import IngestBatch, Request
from monitor.models import Project
from tests.ingest.samples import SHARED

NGINX = SHARED / "nginx" / "access.ndjson"


def importlog(*args, stdin: bytes | None = None, monkeypatch=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    call_command("importlog", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_log_file_into_a_new_project(db):
    out, err = importlog(str(NGINX), "--project", "Edge Logs", "--format", "nginx")
    project = Project.objects.get(slug="edge-logs")
    assert Request.objects.filter(project=project).count() == 9
    assert (
        "imported access.ndjson into edge-logs: 9 lines, 9 accepted, 0 duplicates, 0 rejected"
        in out
    )
    assert "created project 'edge-logs'" in err
    assert "100%" in err  # the progress bar


def test_a_second_run_stores_nothing_new(db):
    importlog(str(NGINX), "--project", "edge")
    out, _ = importlog(str(NGINX), "--project", "edge")
    assert "9 lines, 0 accepted, 9 duplicates, 0 rejected" in out
    assert Request.objects.count() == 9


def test_it_recognises_gzip_by_its_magic_bytes(db, tmp_path):
    log = tmp_path / "access.log.1"  # no .gz: rotated logs are often compressed in place
    log.write_bytes(gzip.compress(NGINX.read_bytes()))
    out, _ = importlog(str(log), "--project", "edge", "--format", "nginx")
    assert "9 accepted" in out


@pytest.mark.parametrize("sample", ["nginx/access.ndjson", "caddy/access.ndjson"])
@pytest.mark.parametrize("compressed", [False, True])
def test_a_log_saved_with_a_byte_order_mark_reads_its_first_line(db, tmp_path, sample, compressed):
    """Editors on Windows save UTF-8 with a BOM: it is not part of the first line (a JSON line
    would be refused, a combined line's address would carry it)."""
    data = b"\xef\xbb\xbf" + (SHARED / sample).read_bytes()
    log = tmp_path / "access.log"
    log.write_bytes(gzip.compress(data) if compressed else data)
    out, _ = importlog(str(log), "--project", "edge")
    assert "9 accepted, 0 duplicates, 0 rejected" in out
    combined = tmp_path / "combined.log"
    now = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    line = f'127.0.0.1 - - [{now}] "GET /bom HTTP/1.1" 200 2 "-" "x"\n'
    combined.write_bytes(b"\xef\xbb\xbf" + line.encode())
    importlog(str(combined), "--project", "edge", "--format", "nginx")
    assert Request.objects.get(path="/bom").client_ip == "127.0.0.1"


def test_it_reads_stdin(db, monkeypatch):
    data = gzip.compress((SHARED / "caddy" / "access.ndjson").read_bytes())
    out, _ = importlog("-", "--project", "edge", stdin=data, monkeypatch=monkeypatch)
    assert "imported stdin into edge: 9 lines, 9 accepted" in out


def test_it_stores_in_batches_of_the_given_size(db):
    importlog(str(NGINX), "--project", "edge", "--batch-size", "4")
    assert sorted(IngestBatch.objects.values_list("accepted", flat=True)) == [1, 4, 4]


def test_bad_lines_are_counted_reported_and_skipped(db, tmp_path):
    good = NGINX.read_text().splitlines()
    bad = ["not a log line at all", '{"ts": 1}', "{broken", "\x00\x1b[31m"] * 3
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(good[:4] + bad + good[4:]) + "\n")
    out, err = importlog(str(log), "--project", "edge", "--batch-size", "5")
    assert "21 lines, 9 accepted, 0 duplicates, 12 rejected" in out
    reported = [line for line in err.splitlines() if line.startswith("line ")]
    assert len(reported) == 5
    assert reported[0].startswith("line 5: ")
    assert "line 6: " in err and "\x1b" not in err
    assert "... and 7 more bad records" in err
    assert Request.objects.count() == 9


def test_a_file_holding_one_json_document_is_read_whole(db):
    out, _ = importlog(str(SHARED / "aws" / "firehose.json"), "--project", "edge")
    assert "9 accepted" in out


def test_a_line_holding_a_json_array_is_one_record_per_element(db):
    out, _ = importlog(str(SHARED / "kong" / "batch.json"), "--project", "edge")
    assert Request.objects.count() > 1
    assert "0 rejected" in out


def test_records_already_shipped_over_http_are_duplicates(post_logs, shop):
    post_logs(NGINX.read_bytes(), fmt="nginx")
    out, _ = importlog(str(NGINX), "--project", shop.slug, "--format", "nginx")
    assert "0 accepted, 9 duplicates" in out


def test_a_missing_file_is_a_clear_error(db):
    with pytest.raises(CommandError, match="cannot read /nonexistent/access.log"):
        importlog("/nonexistent/access.log", "--project", "edge")


@pytest.mark.parametrize("cut", [10, 200])  # in the trailer; in the compressed lines
@pytest.mark.parametrize("from_stdin", [False, True])
def test_a_truncated_gzip_is_a_clear_error_and_a_whole_file_completes_it(
    db, tmp_path, monkeypatch, cut, from_stdin
):
    data = gzip.compress(NGINX.read_bytes())
    log = tmp_path / "access.log.gz"
    log.write_bytes(data[:-cut])
    args = ("--project", "edge", "--format", "nginx", "--batch-size", "2")
    with pytest.raises(
        CommandError,
        match=r"(access.log.gz|stdin): the gzip data ends early",
    ):
        if from_stdin:
            importlog("-", *args, stdin=data[:-cut], monkeypatch=monkeypatch)
        else:
            importlog(str(log), *args)
    log.write_bytes(data)
    out, _ = importlog(str(log), *args)
    assert Request.objects.count() == 9
    assert "9 lines" in out


def test_a_corrupt_gzip_is_a_clear_error(db, tmp_path):
    data = bytearray(gzip.compress(NGINX.read_bytes()))
    data[len(data) // 2] ^= 0xFF
    log = tmp_path / "access.log.gz"
    log.write_bytes(bytes(data))
    with pytest.raises(CommandError, match=r"access.log.gz: the gzip data .* is damaged"):
        importlog(str(log), "--project", "edge", "--format", "nginx")


def test_a_project_slug_longer_than_the_column_is_a_clear_error(db):
    with pytest.raises(CommandError, match="project slug: 65 characters, at most 64"):
        importlog(str(NGINX), "--project", "p" * 65)


def test_an_unknown_format_is_refused(db):
    with pytest.raises(CommandError, match="invalid choice"):
        importlog(str(NGINX), "--project", "edge", "--format", "nope")


@pytest.mark.postgres
def test_a_long_import_analyses_the_partitions_it_fills(db, monkeypatch):
    # Without statistics the conflict lookups keep a generic plan made for an empty partition
    # and slow down with every row stored (autovacuum may analyse too late, or be off).
    from django.db import connection

    from ingest import partitions

    monkeypatch.setattr(partitions, "FIRST_ANALYZE", 4)
    importlog(str(NGINX), "--project", "edge", "--format", "nginx", "--batch-size", "2")
    days = {ts.date() for ts in Request.objects.values_list("ts", flat=True)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
            [[partitions.name_for(day) for day in days]],
        )
        tuples = dict(cursor.fetchall())
    assert tuples and all(n > 0 for n in tuples.values()), tuples


def test_statistics_are_taken_as_the_rows_stored_double(db, monkeypatch):
    from collections import Counter
    from datetime import date

    from ingest import partitions

    monkeypatch.setattr(partitions, "FIRST_ANALYZE", 4)
    statistics = partitions.Statistics()
    day = date.today()
    due = [bool(statistics.stored(Counter({day: 2}))) for _ in range(8)]
    if partitions.partitioned():
        # 4, then 8, then 16 rows: the 2nd, 4th and 8th batch.
        assert due == [False, True, False, True, False, False, False, True]
    else:
        assert not any(due)


def test_a_text_line_a_line_format_took_up_gets_that_formats_reason(db, tmp_path):
    stamp = "[06/Dec/2026:20:01:05 +0000]"
    log = tmp_path / "access.log"
    log.write_text(
        # What nginx logs for a TLS handshake sent to its plain HTTP port.
        f'203.0.113.9 - - {stamp} "\\x16\\x03\\x01\\x02\\x00\\x01" 400 157 "-" "-"\n'
        f'203.0.113.9 - - {stamp} "GET /{"a" * 70_000} HTTP/1.1" 414 0 "-" "-"\n'
        "\x00\x01 not a log line\n"
        '{"msec": broken\n'
    )
    _, err = importlog(str(log), "--project", "edge", "--format", "nginx")
    reported = [line for line in err.splitlines() if line.startswith("line ")]
    assert reported == [
        "line 1: request: not 'METHOD URI PROTOCOL': '\\\\x16\\\\x03\\\\x01\\\\x02\\\\x00\\\\x01'",
        "line 2: line: 70,075 characters, over the limit of 65,536",
        "line 3: line: not an nginx combined log line (or JSON)",
        "line 4: line is not valid JSON: JSON is malformed: invalid character (byte 9)",
    ]
    # Recognised as nginx's without --format, the first line gets the same reason.
    _, err = importlog(str(log), "--project", "edge")
    assert "\nline 1: request: not 'METHOD URI PROTOCOL'" in err


def test_a_combined_log_imported_as_a_json_format_says_what_the_lines_are(db, tmp_path):
    stamp = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    log = tmp_path / "access.log"
    log.write_text(f'127.0.0.1 - - [{stamp}] "GET /v1/orders/42 HTTP/1.1" 200 2 "-" "curl/8.4.0"\n')
    _, err = importlog(str(log), "--project", "edge", "--format", "caddy")
    reported = [line for line in err.splitlines() if line.startswith("line ")]
    assert reported == [
        "line 1: record: a text line, but the caddy format reads JSON; it reads as format nginx"
    ]


def test_a_record_no_format_recognises_names_the_option_to_pass(db, tmp_path):
    log = tmp_path / "caddy.log"
    log.write_text('{"level":"warn","ts":1796631020.59283,"logger":"admin","msg":"admin off"}\n')
    _, err = importlog(str(log), "--project", "edge")
    assert (
        "line 1: record: no known format recognises it; "
        "name its format (?format=NAME, importlog --format NAME)"
    ) in err


def test_a_broken_first_line_does_not_make_the_log_one_json_document(db, tmp_path, settings):
    """nginx without `escape=json` writes a quote as `\\x22`, which is not JSON: a log whose first
    line is such a line is still a log of lines, read line by line whatever its size, not a
    pretty-printed document refused as too big."""
    good = NGINX.read_text().splitlines()
    broken = good[0].replace('"request_method":"GET"', '"request_method":"\\x22GET\\x22"')
    assert broken != good[0]
    log = tmp_path / "access.json.log"
    log.write_text("\n".join([broken, *good]) + "\n")
    settings.CONFLICTWATCH_MAX_BODY_BYTES = len(good[0]) * 2
    out, err = importlog(str(log), "--project", "edge", "--format", "nginx")
    assert f"{len(good) + 1} lines, {len(good)} accepted, 0 duplicates, 1 rejected" in out
    assert (
        "\nline 1: line is not valid JSON: JSON is malformed: invalid escape character in string"
    ) in err
    assert "(a \\xHH escape: nginx writes them unless its log_format has escape=json)" in err


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_gzip_log_cut_short_keeps_what_was_read_and_says_so(db, tmp_path, monkeypatch, source):
    """A rotated log still being compressed (or a copy cut short) ends inside its gzip data:
    the lines before the cut are stored, and the error says what happened, not a traceback."""
    stamp = (datetime.now(UTC) - timedelta(hours=1)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    whole = "".join(
        f'10.0.0.7 - - [{stamp}] "GET /v1/orders/{n} HTTP/1.1" 200 2 "-" "curl/8.4.0"\n'
        for n in range(2700)  # two batches and more
    ).encode()
    data = gzip.compress(whole)
    cut = data[: len(data) * 3 // 4]
    args = ("--project", "edge", "--format", "nginx")
    with pytest.raises(CommandError) as raised:
        if source == "file":
            log = tmp_path / "access.log.2.gz"
            log.write_bytes(cut)
            importlog(str(log), *args)
        else:
            importlog("-", *args, stdin=cut, monkeypatch=monkeypatch)
    message = str(raised.value)
    assert (
        "the gzip data ends early (still being compressed, or cut short) or is damaged after line"
    ) in message
    stored = Request.objects.count()
    assert 1000 <= stored < 2700
    assert f"after line {stored:,}" in message or f"after line {stored + 1:,}" in message
    # Once the file is whole, the same command stores the rest.
    log = tmp_path / "access.log.2.gz"
    log.write_bytes(data)
    out, _ = importlog(str(log), *args)
    assert f"{2700 - stored:,} accepted, {stored:,} duplicates" in out
