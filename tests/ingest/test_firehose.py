"""Kinesis Firehose HTTP endpoint deliveries on POST /ingest/v1/logs, answered in Firehose's
shape: {"requestId": <the delivery's>, "timestamp": <ms>}, plus errorMessage on failure."""

import base64
import gzip
import json
import time

import pytest
from django.test import override_settings

from ingest.models import IngestBatch, Request
from tests.ingest.samples import SHARED

REQUEST_ID = "16f8bda2-dcc3-4fc9-a01c-d8d05af0a171"


def delivery(lines: list[str], request_id: str = REQUEST_ID) -> dict:
    return {
        "requestId": request_id,
        "timestamp": 1741944496733,
        "records": [{"data": base64.b64encode(line.encode() + b"\n").decode()} for line in lines],
    }


def aws_lines() -> list[str]:
    return (SHARED / "aws" / "records.ndjson").read_text().splitlines()


@pytest.fixture
def firehose(client, token, django_capture_on_commit_callbacks):
    """POST a delivery the way Firehose does: its access key header, its request id header."""

    def post(body, *, key=token, gzipped=False, request_id=REQUEST_ID, fmt="aws"):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {
            "HTTP_X_AMZ_FIREHOSE_PROTOCOL_VERSION": "1.0",
            "HTTP_X_AMZ_FIREHOSE_REQUEST_ID": request_id,
            "HTTP_X_AMZ_FIREHOSE_ACCESS_KEY": key,
        }
        if gzipped:
            data = gzip.compress(data)
            headers["HTTP_CONTENT_ENCODING"] = "gzip"
        url = "/ingest/v1/logs" + (f"?format={fmt}" if fmt else "")
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, content_type="application/json", **headers)

    return post


def assert_firehose_answer(response, status: int, request_id: str = REQUEST_ID) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["requestId"] == request_id
    assert abs(body["timestamp"] - time.time() * 1000) < 60_000
    assert ("errorMessage" in body) is (status != 200)
    return body


def test_it_answers_a_delivery_in_firehose_shape_and_stores_its_records(firehose):
    response = firehose((SHARED / "aws" / "firehose.json").read_bytes())
    assert_firehose_answer(response, 200)
    assert set(response.json()) == {"requestId", "timestamp"}
    assert Request.objects.count() == 9
    assert Request.objects.filter(status=409, route="/v1/orders").count() == 1


def test_it_accepts_a_gzip_delivery(firehose):
    response = firehose(delivery(aws_lines()[:3]), gzipped=True)
    assert_firehose_answer(response, 200)
    assert Request.objects.count() == 3


def test_a_retried_delivery_is_stored_once(firehose):
    body = delivery(aws_lines())
    firehose(body)
    assert_firehose_answer(firehose(body), 200)
    assert Request.objects.count() == 9
    assert IngestBatch.objects.order_by("id").last().duplicates == 9


def test_the_format_is_detected_without_a_format_parameter(firehose):
    assert_firehose_answer(firehose(delivery(aws_lines()[:2]), fmt=None), 200)
    assert Request.objects.count() == 2


def test_the_request_id_of_the_body_answers_when_the_header_is_missing(client, token):
    response = client.post(
        "/ingest/v1/logs?format=aws",
        json.dumps(delivery(aws_lines()[:1], request_id="from-body")),
        content_type="application/json",
        HTTP_X_AMZ_FIREHOSE_ACCESS_KEY=token,
    )
    assert_firehose_answer(response, 200, request_id="from-body")


def test_a_wrong_access_key_is_401_with_an_error_message(firehose):
    body = assert_firehose_answer(firehose(delivery(aws_lines()), key="cw_wrong"), 401)
    assert "token" in body["errorMessage"]
    assert Request.objects.count() == 0


def test_bad_records_are_counted_and_the_good_ones_kept(firehose):
    lines = aws_lines()
    body = delivery([lines[0], '{"httpMethod": "GET", "requestId": "x"}', lines[1]])
    body["records"].append({"data": "not base64!"})
    assert_firehose_answer(firehose(body), 200)
    assert Request.objects.count() == 2
    assert IngestBatch.objects.get().rejected == 2


def test_a_delivery_with_no_usable_record_is_400_so_firehose_backs_it_up(firehose):
    body = assert_firehose_answer(firehose(delivery(["{}", "not json"])), 400)
    assert "no usable record" in body["errorMessage"]


def test_an_empty_delivery_is_200(firehose):
    assert_firehose_answer(firehose(delivery([])), 200)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"requestId": "x", ', "not valid JSON"), (b'{"hello": "world"}', "not a Firehose")],
)
def test_a_body_that_is_not_a_delivery_is_400(firehose, body, message):
    answer = assert_firehose_answer(firehose(body), 400)
    assert message in answer["errorMessage"]


def test_a_corrupt_gzip_body_is_400(firehose, token, client):
    response = client.post(
        "/ingest/v1/logs?format=aws",
        b"\x1f\x8b\x08\x00garbage",
        content_type="application/json",
        HTTP_X_AMZ_FIREHOSE_ACCESS_KEY=token,
        HTTP_X_AMZ_FIREHOSE_REQUEST_ID=REQUEST_ID,
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert "gzip" in assert_firehose_answer(response, 400)["errorMessage"]


@override_settings(CONFLICTWATCH_MAX_BODY_BYTES=1024)
def test_an_oversized_delivery_is_413(firehose):
    body = assert_firehose_answer(firehose(delivery(aws_lines())), 413)
    assert "over the limit" in body["errorMessage"]


def test_a_full_backlog_is_429_with_retry_after(firehose, shop):
    IngestBatch.objects.bulk_create([IngestBatch(project=shop) for _ in range(3)])
    with override_settings(CONFLICTWATCH_MAX_PENDING_BATCHES=2):
        response = firehose(delivery(aws_lines()))
    assert_firehose_answer(response, 429)
    assert int(response["Retry-After"]) > 0
    assert Request.objects.count() == 0


def test_another_content_type_is_415(client, token):
    response = client.post(
        "/ingest/v1/logs?format=aws",
        b"x",
        content_type="application/xml",
        HTTP_X_AMZ_FIREHOSE_ACCESS_KEY=token,
        HTTP_X_AMZ_FIREHOSE_REQUEST_ID=REQUEST_ID,
    )
    assert_firehose_answer(response, 415)
