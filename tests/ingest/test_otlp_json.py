"""OTLP/JSON bodies map straight from JSON exactly as the same request does through protobuf."""

import json

import pytest

from ingest.formats import otlp, otlp_json
from ingest.record import RecordError
from tests.ingest.otlp_spans import START, json_span
from tests.ingest.samples import SHARED, moved_text

OTLP = SHARED / "otlp"
needs_samples = pytest.mark.skipif(not OTLP.is_dir(), reason=f"no OTLP samples at {OTLP}")


def _body(*spans: dict) -> bytes:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]}
    return json.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]}
    ).encode()


def _both_ways(body: bytes, signal: str = "traces") -> tuple[otlp.Mapped, otlp.Mapped]:
    if signal == "traces":
        return otlp_json.map_traces(body), otlp.map_traces(otlp.parse_traces_json(body))
    return otlp_json.map_logs(body), otlp.map_logs(otlp.parse_logs_json(body))


def _same(direct: otlp.Mapped, through_protobuf: otlp.Mapped) -> None:
    assert direct.records == through_protobuf.records
    assert direct.refs == through_protobuf.refs
    assert (direct.rejected, direct.reasons) == (
        through_protobuf.rejected,
        through_protobuf.reasons,
    )


GOOD = {"http.request.method": "PUT", "url.path": "/v1/orders/42", "http.response.status_code": 412}


@needs_samples
@pytest.mark.parametrize("signal", ["traces", "logs"])
def test_the_samples_map_as_they_do_through_protobuf(signal):
    direct, through_protobuf = _both_ways((OTLP / f"{signal}.json").read_bytes(), signal)
    assert direct.records
    _same(direct, through_protobuf)


@pytest.mark.parametrize(
    "span",
    [
        json_span(GOOD),
        json_span(
            {
                "http.method": "PUT",
                "http.target": "/v1/orders/42?force=1",
                "http.status_code": 409,
                "http.host": "api.shop.example",
                "net.peer.ip": "198.51.100.7",
                "http.request_content_length": 12,
            }
        ),
        json_span(
            GOOD | {"http.request.method": "_OTHER", "http.request.method_original": "PURGE"}
        ),
        json_span(GOOD | {"http.response.status_code": "409"}),  # a status sent as a string
        json_span(GOOD | {"http.request.header.if-match": ['"a"', '"b"'], "enduser.id": "billing"}),
        json_span(GOOD | {"http.request.header.if-match": '"lone string"'}),
        json_span(GOOD | {"http.request.header.if-match": []}),
        json_span(
            GOOD | {"http.request.header.x-tenant": ["t-1"], "http.request.header.cookie": ["s"]}
        ),
        json_span(GOOD | {"http.response.header.set-cookie": ["s=1"], "user_agent.original": "ua"}),
        json_span(GOOD | {"http.response.header.etag": ['W/"7"'], "http.route": "/v1/orders/{id}"}),
        json_span(GOOD | {"http.response.body.size": 17.0, "http.request.body.size": True}),
        json_span(GOOD, kind="SPAN_KIND_SERVER"),
        json_span(GOOD, kind=3),
        json_span({"http.request.method": "GET", "url.path": "/no-status"}),
        json_span(GOOD, start="0"),
        json_span(GOOD, endTimeUnixNano="1"),
        json_span(GOOD, start=int(START)),  # a plain number
        json_span(GOOD, spanId="B7AD6B7169203331"),
    ],
    ids=lambda span: json.dumps(span["attributes"])[-60:] + f" kind={span['kind']}",
)
def test_a_span_maps_as_it_does_through_protobuf(span):
    _same(*_both_ways(_body(span)))


def test_null_fields_read_as_their_defaults_as_through_protobuf():
    span = json_span(GOOD | {"enduser.id": "billing"}, endTimeUnixNano=None, links=None)
    span["attributes"][-1]["value"] = None
    span["attributes"].append({"key": "http.request.header.if-match", "value": {"arrayValue": {}}})
    body = {
        "resourceSpans": [
            {
                "resource": None,
                "scopeSpans": [{"spans": [span, json_span(GOOD) | {"attributes": None}]}],
            },
            {"resource": {"attributes": None}, "scopeSpans": None},
        ]
    }
    direct, through_protobuf = _both_ways(json.dumps(body).encode())
    assert (len(direct.records), direct.rejected) == (1, 0)  # no attributes: not HTTP, skipped
    _same(direct, through_protobuf)


def test_secret_response_headers_are_not_kept_even_when_asked_for():
    body = _body(json_span(GOOD | {"http.response.header.set-cookie": ["s=1"]}))
    for mapped in _both_ways(body):
        (record,) = mapped.records
        assert "set-cookie" not in record["response_headers"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not an OTLP/JSON request"),
        (b'{"resourceSpans": "x"}', "resourceSpans"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [5]}]}]}', "spans[0]"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": 2, "spanId": "zz"}]}]}]}',
            "spanId: not a hex id",
        ),
        (
            _body(json_span(GOOD)).replace(b'"stringValue": "PUT"', b'"stringValue": 5'),
            "stringValue",
        ),
        (_body(json_span(GOOD)).replace(b'"intValue": "412"', b'"intValue": "x"'), "intValue"),
        (_body(json_span(GOOD, start="soon")), "startTimeUnixNano"),
        (
            '{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":2,"attributes":[{"key":"x",'
            '"value":' + '{"arrayValue":{"values":[' * 5000 + "]}}" * 5000 + "}]}]}]}]}",
            "body: ",
        ),
    ],
    ids=[
        "not json",
        "array",
        "list expected",
        "span not an object",
        "bad id",
        "string expected",
        "integer expected",
        "time expected",
        "deep",
    ],
)
def test_a_body_of_the_wrong_shape_is_refused_with_the_problem(body, problem):
    with pytest.raises(RecordError, match="^body: ") as refused:
        otlp_json.map_traces(body)
    assert problem in str(refused.value)


def test_a_log_record_without_a_time_uses_the_observed_time():
    log = {
        "observedTimeUnixNano": moved_text("1741944413604356328"),
        "attributes": json_span(GOOD)["attributes"],
    }
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [log]}]}]}).encode()
    direct, through_protobuf = _both_ways(body, "logs")
    assert direct.records[0]["ts"] == int(moved_text("1741944413604"))
    _same(direct, through_protobuf)
