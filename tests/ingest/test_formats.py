"""Every gateway/shipper sample parses to its expected native records; hostile records are
rejected with a RecordError (or cut), never another exception."""

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from ingest.decode import split_items
from ingest.formats import FORMATS, aws, detect, expand, to_native
from ingest.normalize import normalize
from ingest.record import RecordError
from tests.ingest.samples import (
    SHARED,
    check_records,
    format_for,
    moved,
    moved_text,
    sample_cases,
    ts_text,
)

# OTLP samples go to the OTLP endpoints: tests/ingest/test_otlp_mapping.py.
SAMPLES = sample_cases(skip_folders={"otlp"})


def _items(sample: Path) -> list:
    items = split_items(sample.read_bytes())
    if len(items) == 1 and aws.is_firehose(items[0].value):
        items = aws.firehose_items(items[0].value)
    return [item.value for item in items]


def _parse_sample(sample: Path, fmt: str | None) -> list:
    return [normalize(to_native(obj, fmt)) for item in _items(sample) for obj in expand(item)]


def _ts(record) -> str:
    return ts_text(record.ts)


def _check(sample: Path, expected_file: Path, fmt: str | None) -> None:
    expected = json.loads(expected_file.read_text())
    check_records(sample, _parse_sample(sample, fmt), expected)


@pytest.mark.parametrize(("sample", "expected"), SAMPLES)
def test_every_sample_parses_to_its_expected_records(sample, expected):
    _check(sample, expected, format_for(sample))


@pytest.mark.parametrize(("sample", "expected"), SAMPLES)
def test_every_sample_parses_the_same_when_its_format_is_detected(sample, expected):
    _check(sample, expected, None)


@pytest.mark.parametrize(("sample", "expected"), SAMPLES)
def test_detection_picks_the_format_of_every_sample(sample, expected):
    fmt = format_for(sample)
    for item in _items(sample):
        for obj in expand(item):
            assert detect(obj).NAME == fmt


def test_samples_were_found():
    assert len(SAMPLES) >= 17, f"samples under {SHARED}"


# --- conversions --------------------------------------------------------------------------


def _first_record(fmt: str, name: str) -> dict:
    return _items(SHARED / fmt / name)[0]


def test_it_converts_traefik_nanoseconds():
    record = _first_record("traefik", "access.ndjson")
    record["Duration"] = 1_500_000
    assert to_native(record, "traefik")["duration_ms"] == pytest.approx(1.5)


def test_it_starts_nginx_requests_at_msec_minus_request_time():
    record = _first_record("nginx", "access.ndjson")
    record["msec"], record["request_time"] = moved_text("1741944413.601"), "1.250"
    out = normalize(to_native(record, "nginx"))
    assert _ts(out) == moved_text("2025-03-14T09:26:52.351Z")
    assert out.duration_ms == pytest.approx(1250)


def test_it_starts_caddy_requests_at_ts_minus_duration():
    record = _first_record("caddy", "access.ndjson")
    record["ts"], record["duration"] = float(moved_text("1741944417.5")), 0.25
    out = normalize(to_native(record, "caddy"))
    assert _ts(out) == moved_text("2025-03-14T09:26:57.250Z")
    assert out.duration_ms == pytest.approx(250)


def test_it_reads_caddy_nanosecond_and_go_string_durations():
    record = _first_record("caddy", "access.ndjson")
    record["duration"] = 37_118_002
    assert to_native(record, "caddy")["duration_ms"] == pytest.approx(37.118002)
    record["duration"] = "1m2.5s"
    assert to_native(record, "caddy")["duration_ms"] == pytest.approx(62_500)


def test_caddys_own_log_lines_are_named_for_what_they_are():
    """Without `output file`, Caddy writes access entries to stderr among its own log lines: an
    import of that stream says which lines are not requests, not that a method is missing."""
    lines = Path(__file__).resolve().parents[1] / "data" / "caddy_stderr" / "runtime.ndjson"
    for line in lines.read_text().splitlines():
        record = json.loads(line)
        with pytest.raises(RecordError) as raised:
            to_native(record, "caddy")
        assert str(raised.value) == (
            f"request: missing; not an access log entry (Caddy's own log: {record['msg']!r})"
        )


@pytest.mark.parametrize(
    ("value", "status"),
    [("502, 409", 409), ("502 : 409", 409), ("504, 502 : 200", 200), ("", None), ("-", None)],
)
def test_it_takes_the_last_upstream_status(value, status):
    record = _first_record("nginx", "access.ndjson")
    record["upstream_status"] = value
    assert normalize(to_native(record, "nginx")).upstream_status == status


def test_a_zero_origin_status_means_no_upstream():
    record = _first_record("traefik", "access.ndjson")
    record["OriginStatus"] = 0
    assert normalize(to_native(record, "traefik")).upstream_status is None


def test_it_strips_the_aws_stage_from_the_path_and_keeps_the_resource_path():
    record = _first_record("aws", "records.ndjson")
    out = normalize(to_native(record, "aws"))
    assert (out.path, out.route) == ("/v1/orders/42", "/v1/orders/{id}")
    record["path"] = "/prod"
    assert to_native(record, "aws")["path"] == "/"
    record["path"] = "/production/x"
    assert to_native(record, "aws")["path"] == "/production/x"


def test_aws_client_is_the_principal_or_api_key_id_else_the_ip():
    record = _first_record("aws", "records.ndjson")
    record["principalId"], record["apiKeyId"] = "-", "k3y1d"
    assert normalize(to_native(record, "aws")).client == "k3y1d"
    record["apiKeyId"] = "-"
    assert normalize(to_native(record, "aws")).client == record["ip"]


def test_it_decodes_apipark_header_strings_and_full_urls():
    record = _first_record("apipark", "requests.ndjson")
    record["request_uri"] = "https://api.shop.example/v1/orders?status=open&page=2"
    record["request_header"] = "If-Match=%22v6%22&Idempotency-Key=a+b&If-Match=W%2F%22v7%22"
    out = normalize(to_native(record, "apipark"))
    assert (out.path, out.query) == ("/v1/orders", "status=open&page=2")
    assert out.request_headers == {"if-match": '"v6", W/"v7"', "idempotency-key": "a b"}


def test_it_keeps_traefik_canonical_header_names():
    record = _first_record("traefik", "access.ndjson")
    out = normalize(to_native(record, "traefik"))
    assert out.response_headers["etag"] == 'W/"7f3a9c"'
    assert out.client == "acme-mobile"


def test_it_joins_caddy_header_arrays_and_drops_redacted_authorization():
    record = _first_record("caddy", "access.ndjson")
    record["request"]["headers"]["If-Match"] = ['"v1"', '"v2"']
    out = normalize(to_native(record, "caddy"))
    assert out.request_headers["if-match"] == '"v1", "v2"'
    assert "authorization" not in out.request_headers


def test_kong_client_is_the_consumer_never_the_credential():
    record = _first_record("kong", "batch.json")
    assert normalize(to_native(record, "kong")).client == "acme-mobile"
    record["consumer"] = None
    assert normalize(to_native(record, "kong")).client == "4b343b42-b4cc-4d44-a517-b995b70447de"
    record["authenticated_entity"] = None
    assert normalize(to_native(record, "kong")).client == "203.0.113.10"


def test_apisix_never_keeps_the_authorization_it_logs_in_clear():
    record = _first_record("apisix", "batch.json")
    out = normalize(to_native(record, "apisix"))
    assert "authorization" not in out.request_headers
    assert "eyJ" not in json.dumps(out.request_headers)


def test_it_reads_an_nginx_combined_line():
    line = moved_text(
        '203.0.113.10 - acme [14/Mar/2025:10:26:57 +0100] "PUT /v1/orders/42?x=1 HTTP/1.1" '
        '409 149 "-" "AcmeShop/4.2.1 (iOS 17.3; iPhone14,2)"'
    )
    assert detect(line).NAME == "nginx"
    out = normalize(to_native(line, None))
    assert (_ts(out), out.method, out.path, out.query) == (
        moved_text("2025-03-14T09:26:57.000Z"),
        "PUT",
        "/v1/orders/42",
        "x=1",
    )
    assert (out.status, out.response_bytes, out.client, out.client_ip) == (
        409,
        149,
        "acme",
        "203.0.113.10",
    )
    assert out.user_agent == "AcmeShop/4.2.1 (iOS 17.3; iPhone14,2)"


COMBINED = (
    '203.0.113.10 - - [14/Mar/2025:10:26:57 +0100] "PUT /v1/orders/42 HTTP/1.1" 409 149 "-" '
    '"curl/8.4.0"'
)


@pytest.mark.parametrize(
    ("addition", "duration_ms"),
    [
        (' rt=0.153 uct="0.000" uht="0.152" urt="0.152"', 153.0),
        (' "198.51.100.7" rt=1.250 ua="10.0.0.5:8080" us="409" ut="1.249"', 1250.0),
        (" request_time=0.007", 7.0),
        (' rt="2.000"', 2000.0),
        (" rt=-", None),
        (' "-" "0.42"', None),  # a bare number may be anything: not taken as the duration
        (" urt=0.5", None),  # the upstream's time is not the request's
        (" xrt=0.5 prt=3", None),
        # Traefik's default (Common Log Format) line: requests so far, router, server, duration.
        (' 1042 "orders@docker" "http://10.0.0.5:8080" 153ms', 153.0),
        (' 7 "dashboard@internal" "-" 0ms', 0.0),
        (' 7 "a" "b" 12ms extra', None),
        # Quoted text is a logged header (attacker text), never an addition of its own.
        (' "1.2.3.4 rt=9.999 x" rt=0.020', 20.0),
        (' "a\\" rt=9.999 b"', None),
    ],
)
def test_a_combined_line_with_a_request_time_addition_has_that_duration(addition, duration_ms):
    line = moved_text(COMBINED + addition)
    assert detect(line).NAME == "nginx"
    out = normalize(to_native(line, "nginx"))
    assert out.duration_ms == duration_ms
    # The time stays the line's own (the end of the request, to the second).
    assert _ts(out) == moved_text("2025-03-14T09:26:57.000Z")


ESCAPES = Path(__file__).resolve().parents[1] / "data" / "nginx_escapes"


def _lines(name: str) -> list[str]:
    data = moved((ESCAPES / name).read_bytes())
    return data.decode("utf-8", "replace").splitlines()


def test_a_combined_line_reads_as_the_json_line_of_the_same_request():
    """nginx writes `"`, `\\` and bytes outside printable ASCII as `\\xHH` in a combined line:
    the path, query, user agent and user read back as the client sent them, as in the JSON
    (`escape=json`) line nginx wrote for the same request."""
    combined, json_lines = _lines("combined.log"), _lines("json.log")
    assert len(combined) == len(json_lines) == 16
    for number, (line, json_line) in enumerate(zip(combined, json_lines, strict=True)):
        text = normalize(to_native(line, "nginx"))
        record = normalize(to_native(json.loads(json_line), "nginx"))
        assert (text.method, text.path, text.query, text.status, text.user_agent) == (
            record.method,
            record.path,
            record.query,
            record.status,
            record.user_agent,
        ), number
    read = [normalize(to_native(line, "nginx")) for line in combined]
    assert read[0].path == '/v1/orders/"quoted"'
    assert read[1].path == "/v1/orders/back\\slash"
    assert read[2].path == "/v1/orders/café"
    assert read[3].path == "/v1/orders/\ufffd\ufffd"
    assert read[4].path == "/v1/orders/x\\x22y"  # a literal backslash-x-2-2, unescaped once
    assert read[7].user_agent == 'evil "agent" \\ \\x22 <script>'
    assert read[8].user_agent == "ünïcode ☃ agent"


def test_a_user_name_with_spaces_or_brackets_does_not_lose_the_request():
    """Any client can send `Authorization: Basic` with a user name of its choosing, and nginx
    writes it unquoted: a combined line with `john doe` or `a]b [x` as its user is read, with
    the user the JSON line of the same request has."""
    combined, json_lines = _lines("users_combined.log"), _lines("users_json.log")
    assert len(combined) == len(json_lines) == 4
    for line, json_line in zip(combined, json_lines, strict=True):
        text = normalize(to_native(line, "nginx"))
        record = normalize(to_native(json.loads(json_line), "nginx"))
        assert (text.client, text.path, text.status, _ts(text)[:19]) == (
            record.client,
            record.path,
            record.status,
            _ts(record)[:19],
        )
    assert [normalize(to_native(line, "nginx")).client for line in combined] == [
        "john doe",
        "a]b [x",
        "jöhn",
        'q"uote',
    ]


def test_an_escaped_combined_line_keeps_the_dedup_key_it_was_stored_with():
    """Lines stored before their escapes were read (path and user agent as nginx wrote them)
    are the same requests: importing the log again stores nothing twice."""
    for line in _lines("combined.log"):
        out = normalize(to_native(line, "nginx"))
        # What an earlier version stored: the fields as written, escapes and all.
        fields = COMBINED_LINE.match(line).groups()
        as_written = normalize(
            {
                "ts": out.ts.isoformat(),
                "method": fields[0],
                "path": fields[1],
                "status": out.status,
                "response_bytes": out.response_bytes,
                "client_ip": out.client_ip,
                "user_agent": None if fields[2] == "-" else fields[2],
            }
        )
        assert out.dedup_key == as_written.dedup_key, line


COMBINED_LINE = re.compile(r'\S+ - - \[[^\]]+\] "(\S+) (\S+) HTTP/1.1" \d+ \d+ "[^"]*" "([^"]*)"')


REFUSED = Path(__file__).resolve().parents[1] / "data" / "nginx_refused"


def _refused(name: str) -> list[dict]:
    data = moved((REFUSED / name).read_bytes()).decode("utf-8", "replace")
    return [json.loads(line) for line in data.splitlines()]


def test_a_request_nginx_refused_before_reading_its_uri_says_so():
    """nginx answers a malformed request 400 itself and logs it with an empty `$request_uri`:
    the error says why, not that the path is of the wrong type."""
    for record in _refused("json.log"):
        with pytest.raises(RecordError, match=r"^request_uri: empty \(nginx answered 400 before"):
            normalize(to_native(record, "nginx"))


def test_a_refused_request_is_read_from_the_request_line_when_it_is_logged():
    first, second = (normalize(to_native(r, "nginx")) for r in _refused("json_with_request.log"))
    assert (first.method, first.path, first.status) == ("GET", "/v1/orders/%22%5C%00", 400)
    assert (second.method, second.path, second.query, second.status) == (
        "GET",
        "/v1/orders/42",
        "x=\ufffd",
        400,
    )


@pytest.mark.parametrize("field", ["method", "path"])
def test_an_empty_method_or_path_is_called_empty(field):
    record = {"ts": moved_text("2025-03-14T09:26:57.000Z"), "method": "GET", "path": "/x"}
    with pytest.raises(RecordError, match=f"^{field}: empty$"):
        normalize(to_native({**record, field: "", "status": 200}, "native"))


def test_traefiks_default_access_log_lines_read_as_traefik_too():
    line = moved_text(COMBINED + ' 1042 "orders@docker" "http://10.0.0.5:8080" 153ms')
    out = normalize(to_native(line, "traefik"))
    assert (out.method, out.path, out.status, out.duration_ms) == ("PUT", "/v1/orders/42", 409, 153)


def test_a_request_time_addition_does_not_make_a_line_another_request():
    """A line stored before its `rt=` was read (as plain combined) and the same line read with
    its duration keep one dedup key: importing a log again after an upgrade stores nothing
    twice."""
    plain = normalize(to_native(moved_text(COMBINED), "nginx"))
    timed = normalize(to_native(moved_text(COMBINED + " rt=0.153"), "nginx"))
    assert timed.duration_ms == 153.0 and plain.duration_ms is None
    assert (timed.dedup_key, timed.ts) == (plain.dedup_key, plain.ts)


def test_a_json_record_cannot_keep_its_duration_out_of_its_dedup_key():
    """Only the line parser can mark a duration as outside the key: whatever a JSON record
    says, two records that differ only in their duration stay two requests."""
    fields = {"ts": moved_text("2025-03-14T09:26:57.000Z"), "method": "GET", "path": "/x"}
    keys = {
        normalize(
            to_native(
                {**fields, "status": 200, "duration_ms": ms, "duration_outside_key": True}, None
            )
        ).dedup_key
        for ms in (5, 6)
    }
    assert len(keys) == 2


@pytest.mark.parametrize("value", ["1e99", "-3", "abc", "nan", "99999999"])
def test_a_request_time_addition_that_is_not_seconds_is_refused(value):
    with pytest.raises(RecordError, match=r"request_time: "):
        normalize(to_native(moved_text(f"{COMBINED} rt={value}"), "nginx"))


def test_a_text_line_in_a_body_reaches_the_line_parser():
    body = moved(
        b'10.0.0.1 - - [14/Mar/2025:09:26:57 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n'
        b'10.0.0.2 - - [14/Mar/2025:09:26:58 +0000] "POST /x HTTP/1.1" 409 9 "-" "curl/8"\n'
    )
    records = [normalize(to_native(o, "nginx")) for i in split_items(body) for o in expand(i.value)]
    assert [(r.method, r.status, r.client) for r in records] == [
        ("GET", 200, "10.0.0.1"),
        ("POST", 409, "10.0.0.2"),
    ]


def test_a_text_line_for_a_json_only_format_is_a_record_error():
    with pytest.raises(RecordError, match="kong format reads JSON"):
        to_native("GET / 200", "kong")


def test_an_unrecognised_record_names_the_problem():
    with pytest.raises(RecordError, match="no known format recognises it"):
        to_native({"hello": "world"}, None)
    with pytest.raises(RecordError, match="no known format recognises it"):
        to_native("just some words", None)


def test_an_unknown_format_name_is_a_record_error():
    with pytest.raises(RecordError, match="unknown format"):
        to_native({}, "nope")


def test_expand_unwraps_shipper_envelopes_and_ignores_their_time():
    line = (SHARED / "nginx" / "access.ndjson").read_text().splitlines()[0]
    envelopes = [
        {"message": line, "timestamp": "2030-01-01T00:00:00Z", "host": "edge-1"},
        {"date": 1900000000.5, "log": line + "\n"},
        {"@timestamp": "2030-01-01T00:00:00Z", "event": {"original": line}, "host": {}},
    ]
    for envelope in envelopes:
        (inner,) = list(expand(envelope))
        assert inner == json.loads(line)
        assert _ts(normalize(to_native(inner, None))) == moved_text("2025-03-14T09:26:53.589Z")


def test_expand_passes_a_plain_text_message_to_the_line_parser():
    line = moved_text(
        '10.0.0.1 - - [14/Mar/2025:09:26:57 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'
    )
    (inner,) = list(expand({"message": line, "source_type": "file"}))
    assert normalize(to_native(inner, None)).status == 200


def test_expand_unpacks_a_firehose_delivery_with_plain_and_cloudwatch_records():
    lines = (SHARED / "aws" / "records.ndjson").read_text().splitlines()
    cloudwatch = {
        "messageType": "DATA_MESSAGE",
        "logEvents": [{"id": "1", "timestamp": 0, "message": lines[1]}],
    }
    envelope = {
        "requestId": "r-1",
        "timestamp": 1741944496733,
        "records": [
            {"data": base64.b64encode(lines[0].encode() + b"\n").decode()},
            {"data": base64.b64encode(gzip.compress(json.dumps(cloudwatch).encode())).decode()},
            {"data": "not base64!"},
        ],
    }
    objs = list(expand(envelope))
    assert [normalize(to_native(o, "aws")).status for o in objs[:2]] == [200, 201]
    with pytest.raises(RecordError, match=r"records\[2\].data: not base64"):
        to_native(objs[2], "aws")


def test_firehose_items_rejects_what_is_not_a_delivery():
    with pytest.raises(RecordError, match="not a Firehose delivery"):
        aws.firehose_items({"records": "x"})


# --- hostile records ----------------------------------------------------------------------

# Where each format keeps the request path.
PATH_FIELDS = {
    "native": ("native", "batch.ndjson", ("path",)),
    "kong": ("kong", "batch.json", ("request", "uri")),
    "apisix": ("apisix", "batch.json", ("request", "uri")),
    "apipark": ("apipark", "requests.ndjson", ("request_uri",)),
    "nginx": ("nginx", "access.ndjson", ("request_uri",)),
    "envoy": ("envoy", "access.ndjson", ("path",)),
    "traefik": ("traefik", "access.ndjson", ("RequestPath",)),
    "caddy": ("caddy", "access.ndjson", ("request", "uri")),
    "aws": ("aws", "records.ndjson", ("path",)),
}


def _with_path(fmt: str, path) -> dict:
    folder, name, keys = PATH_FIELDS[fmt]
    record = _first_record(folder, name)
    target = record
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = path
    return record


def test_every_format_has_a_hostile_path_case():
    assert set(PATH_FIELDS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(PATH_FIELDS))
def test_a_one_megabyte_path_is_rejected_naming_the_path(fmt):
    prefix = "/prod" if fmt == "aws" else ""
    record = _with_path(fmt, prefix + "/" + "a" * (1 << 20))
    with pytest.raises(RecordError, match=r"^path: \d+ characters, over the limit"):
        normalize(to_native(record, fmt))


@pytest.mark.parametrize("fmt", sorted(PATH_FIELDS))
def test_control_characters_in_a_path_are_replaced(fmt):
    prefix = "/prod" if fmt == "aws" else ""
    out = normalize(to_native(_with_path(fmt, prefix + "/v1/\x00\x1b[31mred\x7f"), fmt))
    assert out.path == "/v1/\ufffd\ufffd[31mred\ufffd"


@pytest.mark.parametrize("fmt", sorted(PATH_FIELDS))
def test_a_path_of_the_wrong_type_is_rejected_naming_the_field(fmt):
    with pytest.raises(RecordError, match=r"^path: "):
        normalize(to_native(_with_path(fmt, {"$gt": ""}), fmt))


def test_invalid_utf8_in_a_body_becomes_replacement_characters():
    line = (SHARED / "nginx" / "access.ndjson").read_bytes().splitlines()[0]
    body = line.replace(b"AcmeShop", b"Acme\xff\xfeShop")
    (item,) = split_items(body)
    out = normalize(to_native(item.value, "nginx"))
    assert out.user_agent.startswith("Acme\ufffd\ufffdShop")


def test_ten_thousand_headers_keep_only_the_allow_list():
    kong = _first_record("kong", "batch.json")
    kong["request"]["headers"] = {f"x-h{i}": "v" for i in range(10_000)} | {"if-match": '"a"'}
    assert normalize(to_native(kong, "kong")).request_headers == {"if-match": '"a"'}

    nginx = _first_record("nginx", "access.ndjson")
    nginx.update({f"http_x_h{i}": "v" for i in range(10_000)})
    assert len(normalize(to_native(nginx, "nginx")).request_headers) <= 10

    traefik = _first_record("traefik", "access.ndjson")
    traefik.update({f"request_X-H{i}": "v" for i in range(10_000)})
    assert len(normalize(to_native(traefik, "traefik")).request_headers) <= 10

    apipark = _first_record("apipark", "requests.ndjson")
    junk = "&".join(f"X-H{i}=v" for i in range(10_000))
    apipark["request_header"] = "If-Match=%22a%22&" + junk + "&Idempotency-Key=past-the-cut"
    # The URL-encoded header string is cut at 64 KiB: headers past it are not read.
    assert normalize(to_native(apipark, "apipark")).request_headers == {"if-match": '"a"'}


def test_numbers_written_as_strings_are_read():
    traefik = _first_record("traefik", "access.ndjson")
    traefik.update(Duration="37118002", DownstreamStatus="409", OriginStatus="409")
    out = normalize(to_native(traefik, "traefik"))
    assert (out.status, out.upstream_status, out.duration_ms) == (409, 409, pytest.approx(37.118))

    envoy = _first_record("envoy", "access.ndjson")
    envoy.update(response_code="409", duration="37", bytes_sent="149", bytes_received="-")
    out = normalize(to_native(envoy, "envoy"))
    assert (out.status, out.duration_ms, out.response_bytes, out.request_bytes) == (
        409,
        37,
        149,
        None,
    )

    kong = _first_record("kong", "batch.json")
    kong["started_at"], kong["response"]["status"] = moved_text("1741944413589"), "200"
    assert _ts(normalize(to_native(kong, "kong"))) == moved_text("2025-03-14T09:26:53.589Z")


@pytest.mark.parametrize(
    ("fmt", "sample", "change", "field"),
    [
        ("kong", "batch.json", {"request": "GET /"}, "request"),
        ("kong", "batch.json", {"latencies": {"request": {}}}, "duration_ms"),
        ("kong", "batch.json", {"started_at": {"$date": 1}}, "ts"),
        ("kong", "batch.json", {"upstream_status": ["502"]}, "upstream_status"),
        ("apisix", "batch.json", {"response": []}, "response"),
        ("apipark", "requests.ndjson", {"request_header": 7}, "request_header"),
        ("apipark", "requests.ndjson", {"status": "teapot"}, "status"),
        ("nginx", "access.ndjson", {"msec": "yesterday"}, "msec"),
        ("nginx", "access.ndjson", {"msec": None}, "msec"),
        ("nginx", "access.ndjson", {"request_time": True}, "request_time"),
        ("nginx", "access.ndjson", {"status": "000"}, "status"),
        ("nginx", "access.ndjson", {"upstream_status": "oops"}, "upstream_status"),
        ("envoy", "access.ndjson", {"request_headers": ["if-match"]}, "request_headers"),
        ("envoy", "access.ndjson", {"start_time": "14/Mar/2025"}, "ts"),
        ("traefik", "access.ndjson", {"Duration": "1e999"}, "Duration"),
        ("traefik", "access.ndjson", {"StartUTC": None}, "StartUTC"),
        ("caddy", "access.ndjson", {"duration": "forever"}, "duration"),
        ("caddy", "access.ndjson", {"ts": [1]}, "ts"),
        ("caddy", "access.ndjson", {"request": "x"}, "request"),
        ("aws", "records.ndjson", {"requestTimeEpoch": "soon"}, "ts"),
        ("aws", "records.ndjson", {"httpMethod": 5}, "method"),
        ("native", "batch.ndjson", {"status": 99}, "status"),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(fmt, sample, change, field):
    record = _first_record(fmt, sample)
    record.update(change)
    with pytest.raises(RecordError, match=rf"^{field}: "):
        normalize(to_native(record, fmt))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize(
    "junk",
    [{}, {"request": None, "response": None}, {"request": {"headers": "x"}}, {"records": []}],
)
def test_junk_objects_are_record_errors_in_every_format(fmt, junk):
    with pytest.raises(RecordError):
        normalize(to_native(junk, fmt))


@pytest.mark.parametrize(
    "line",
    [
        "",
        "-",
        "\x00" * 100,
        '1.2.3.4 - - [99/Foo/2025:10:26:57 +0100] "GET / HTTP/1.1" 200 5 "-" "x"',
        '1.2.3.4 - - [14/Mar/2025:10:26:57 +0100] "\\x16\\x03\\x01" 400 150 "-" "-"',
        "a" * 100_000,
    ],
)
def test_hostile_text_lines_are_record_errors(line):
    with pytest.raises(RecordError):
        normalize(to_native(line, "nginx"))


HOSTILE_VALUES = [None, True, [], [{}], {}, {"a": {}}, "", "-", "x" * 5000, -1, 1e308, "\x00", "0"]


def _paths(record: dict, prefix=()):
    for key, value in record.items():
        yield (*prefix, key)
        if isinstance(value, dict) and len(prefix) < 2:
            yield from _paths(value, (*prefix, key))


@pytest.mark.parametrize("fmt", sorted(PATH_FIELDS))
def test_any_field_of_any_type_is_accepted_or_a_record_error(fmt):
    folder, name, _ = PATH_FIELDS[fmt]
    for keys in list(_paths(_first_record(folder, name))):
        for value in HOSTILE_VALUES:
            record = _first_record(folder, name)
            target = record
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = value
            try:
                normalize(to_native(record, fmt))
            except RecordError:
                pass


def test_the_documented_nginx_log_format_is_what_the_parser_reads():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "shipping.md").read_text()
    block = docs.split("log_format conflictwatch escape=json", 1)[1].split(";", 1)[0]
    template = "".join(part for part in block.split("'")[1::2])
    values = {
        "msec": moved_text("1741944417.341"),
        "request_time": "0.037",
        "request_id": "47ccd48bf6badfc0bb1c62e7df94f43c",
        "remote_addr": "10.20.4.17",
        "remote_user": "",
        "http_x_client_id": "billing-svc",
        "host": "api.shop.example",
        "request_method": "PUT",
        "request_uri": "/v1/orders/42?force=1",
        "status": "412",
        "request_length": "507",
        "bytes_sent": "329",
        "upstream_status": "502, 412",
        "http_user_agent": "billing-svc/2.8.0",
        "http_if_match": '\\"v6\\"',
        "http_idempotency_key": "k-1",
        "content_type": "application/json",
        "sent_http_etag": '\\"v7\\"',
        "sent_http_retry_after": "2",
    }
    line = template
    # Longest names first: $http_if_none_match must not be read as $http_if_... prefixes.
    for name in sorted({v[1:] for v in template.split('"') if v.startswith("$")}, key=len)[::-1]:
        line = line.replace("$" + name, values.get(name, ""))
    out = normalize(to_native(json.loads(line), "nginx"))
    assert (_ts(out), out.duration_ms, out.method, out.path, out.query) == (
        moved_text("2025-03-14T09:26:57.304Z"),
        pytest.approx(37),
        "PUT",
        "/v1/orders/42",
        "force=1",
    )
    assert (out.status, out.upstream_status, out.client, out.request_id) == (
        412,
        412,
        "billing-svc",
        "47ccd48bf6badfc0bb1c62e7df94f43c",
    )
    assert out.request_headers == {
        "if-match": '"v6"',
        "idempotency-key": "k-1",
        "content-type": "application/json",
    }
    assert out.response_headers == {"etag": '"v7"', "retry-after": "2"}
