"""Hostile records posted over HTTP: each is rejected with a reason or stored cut and scrubbed,
never a 500, and the other records of the same batch are stored."""

import json

import pytest

from ingest.models import Request
from ingest.normalize import MAX_BODY_BYTES, MAX_TEXT
from tests.ingest.samples import SHARED
from tests.records import record

DEEP = 10_000


def deep_value(depth: int) -> str:
    return "[" * depth + "]" * depth


def ndjson(records: list) -> bytes:
    """NDJSON lines; a str is put in as it is (for JSON no encoder would write)."""
    return b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in records)


# (record, the error it gets; None when it is stored)
HOSTILE = [
    (record(1, path="/" + "a" * (1 << 20)), "path: 1048577 characters, over the limit"),
    (record(2, status=[409]), "status: expected an integer, got list"),
    (record(3, method={"$ne": ""}), "method: expected a string"),
    (record(4, request_headers="If-Match: x"), "request_headers: expected an object"),
    (record(5, duration_ms="1e999"), "duration_ms: inf is out of range"),
    (record(6, request_bytes=-1), "request_bytes: -1 is out of range"),
    (record(7, ts={"$date": 1}), "ts: expected an RFC 3339 string or an epoch number"),
    (record(8, response_body={"nested": {"deeply": [1, 2]}}), "response_body: expected a string"),
    (
        json.dumps(record(9)).encode()[:-1] + b', "extra": ' + deep_value(DEEP).encode() + b"}",
        "line is not valid JSON: nested too deeply",
    ),
    (record(10, status="409", duration_ms="12.5", request_bytes="300"), None),
    (record(11, path="/v1/orders/\x00\x1b[2J\x7f", user_agent="curl\r\nX-Evil: 1"), None),
    (
        record(12, request_headers={f"x-h{i}": "v" for i in range(10_000)} | {"If-Match": '"a"'}),
        None,
    ),
    (record(13, host="h" * 100_000, response_body="b" * 100_000), None),
    (record(14, request_headers={"if-match": [[["nested"]]], "etag": {"a": 1}}), None),
    (record(15, ts=-1e308), "ts: -1e+308 is out of range"),
]


@pytest.fixture
def posted(post_logs):
    body = ndjson([record(0)] + [r for r, _ in HOSTILE] + [record(99)])
    # Invalid UTF-8 in a logged string: the record is kept, the bytes become U+FFFD.
    body += b"\n" + json.dumps(record(100, user_agent="AcmeXX")).encode().replace(
        b"XX", b"\xff\xfe"
    )
    return post_logs(body, fmt="native")


def test_the_answer_names_every_rejected_record_and_keeps_the_rest(posted):
    assert posted.status_code == 200
    answer = posted.json()
    errors = {e["index"]: e["error"] for e in answer["errors"]}
    for index, (_, error) in enumerate(HOSTILE, start=1):
        if error is None:
            assert index not in errors, errors.get(index)
        else:
            assert errors[index].startswith(error), (index, errors[index])
    rejected = sum(1 for _, error in HOSTILE if error)
    assert answer["rejected"] == rejected
    assert answer["accepted"] == len(HOSTILE) + 3 - rejected


def test_the_stored_rows_are_the_good_and_the_cut_records(posted):
    stored = set(Request.objects.values_list("request_id", flat=True))
    assert stored == {
        "req-0",
        "req-99",
        "req-100",
        "req-10",
        "req-11",
        "req-12",
        "req-13",
        "req-14",
    }


def test_numbers_written_as_strings_are_stored_as_numbers(posted):
    row = Request.objects.get(request_id="req-10")
    assert (row.status, row.duration_ms, row.request_bytes) == (409, 12.5, 300)


def test_control_characters_and_invalid_utf8_are_replaced(posted):
    row = Request.objects.get(request_id="req-11")
    assert row.path == "/v1/orders/\ufffd\ufffd[2J\ufffd"
    assert row.user_agent == "curl\ufffd\ufffdX-Evil: 1"
    assert Request.objects.get(request_id="req-100").user_agent == "Acme\ufffd\ufffd"


def test_ten_thousand_headers_keep_only_the_allow_list(posted):
    assert Request.objects.get(request_id="req-12").request_headers == {"if-match": '"a"'}


def test_long_values_are_cut(posted):
    row = Request.objects.get(request_id="req-13")
    assert len(row.host) == MAX_TEXT and row.host.endswith("…")
    assert len(row.response_body.encode()) == MAX_BODY_BYTES


def test_nested_header_values_are_dropped(posted):
    row = Request.objects.get(request_id="req-14")
    assert row.request_headers == {}


def test_a_deeply_nested_record_in_a_json_array_costs_only_itself(post_logs):
    body = (
        b"["
        + json.dumps(record(0)).encode()
        + b',{"ts": 1, "x": '
        + deep_value(DEEP).encode()
        + b"},"
        + json.dumps(record(2)).encode()
        + b"]"
    )
    response = post_logs(body, fmt="native", content_type="application/json")
    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"index": 1, "error": "record: not valid JSON: nested too deeply"}
    ]
    assert set(Request.objects.values_list("request_id", flat=True)) == {"req-0", "req-2"}


def test_hostile_records_in_a_gateway_batch_are_rejected_one_by_one(post_logs):
    kong = json.loads((SHARED / "kong" / "batch.json").read_text())
    good = len(kong)
    kong.append({**kong[0], "request": "GET /"})
    kong.append({**kong[0], "started_at": {"$date": 1}})
    kong.append({**kong[1], "request": {**kong[1]["request"], "uri": "/" + "a" * (1 << 20)}})
    response = post_logs(json.dumps(kong), fmt="kong", content_type="application/json")
    assert response.status_code == 200
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (good, 3)
    assert [e["error"].split(":")[0] for e in answer["errors"]] == ["request", "ts", "path"]
    assert Request.objects.count() == good


def test_a_lone_surrogate_in_a_json_array_costs_nothing(post_logs):
    # Python's json.dumps writes a string holding half a surrogate pair as a lone `\ud800`
    # escape, which strict JSON decoders refuse: the record is kept, the half becomes U+FFFD.
    body = json.dumps([record(0), record(1, user_agent="bad\ud800half"), record(2)])
    response = post_logs(body, fmt="native", content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["accepted"] == 3
    assert Request.objects.get(request_id="req-1").user_agent == "bad\ufffdhalf"


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        (r"\udc00", "\ufffd"),  # a low half alone
        (r"\ud800\u0041", "\ufffdA"),  # a high half followed by no low half
        (r"\ud83d\ude00\ud800", "\U0001f600\ufffd"),  # a whole pair is kept
        (r"\\ud800", "\\ud800"),  # an escaped backslash, then plain text
    ],
)
def test_lone_surrogates_become_replacement_characters(post_logs, escaped, text):
    line = json.dumps(record(0, user_agent="UA")).replace('"UA"', f'"{escaped}"')
    response = post_logs(line, fmt="native", content_type="application/json")
    assert response.status_code == 200, response.json()
    assert Request.objects.get(request_id="req-0").user_agent == text
