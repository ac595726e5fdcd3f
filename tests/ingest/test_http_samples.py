"""Every sample in tests/data/formats, posted the way its gateway or shipper sends it, is stored as
its `expected/` records field by field. A new sample in the folder is a new test here."""

import json
from pathlib import Path

import pytest

from ingest.models import Request
from tests.ingest.samples import check_records, format_for, sample_cases, ts_text

SAMPLES = sample_cases()
OTLP_ENDPOINTS = {"traces.json": "/ingest/otlp/v1/traces", "logs.json": "/ingest/otlp/v1/logs"}
CONTENT_TYPES = {".ndjson": "application/x-ndjson", ".json": "application/json"}


def request_for(sample: Path, token: str) -> tuple[str, dict]:
    """The URL and the headers the sample's sender would use."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if sample.parent.name == "otlp":
        return OTLP_ENDPOINTS[sample.name], headers
    url = f"/ingest/v1/logs?format={format_for(sample)}"
    if sample.parent.name == "aws" and sample.name == "firehose.json":
        envelope = json.loads(sample.read_bytes())
        # Firehose sends its access key in its own header, never Authorization.
        headers = {
            "HTTP_X_AMZ_FIREHOSE_ACCESS_KEY": token,
            "HTTP_X_AMZ_FIREHOSE_REQUEST_ID": envelope["requestId"],
            "HTTP_X_AMZ_FIREHOSE_PROTOCOL_VERSION": "1.0",
        }
    return url, headers


def _order(ts: str, method: str, path: str, status: int, query) -> tuple:
    return (ts, method, path, status, query or "")


def test_samples_were_found():
    assert len(SAMPLES) >= 19


@pytest.mark.parametrize(("sample", "expected_file"), SAMPLES)
def test_every_sample_ingests_over_http_to_its_expected_rows(
    client, token, shop, django_capture_on_commit_callbacks, sample, expected_file
):
    url, headers = request_for(sample, token)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, sample.read_bytes(), content_type=CONTENT_TYPES[sample.suffix], **headers
        )
    assert response.status_code == 200, response.content[:500]
    expected = json.loads(expected_file.read_text())
    rows = sorted(
        Request.objects.filter(project=shop),
        key=lambda r: _order(ts_text(r.ts), r.method, r.path, r.status, r.query),
    )
    expected.sort(key=lambda e: _order(e["ts"], e["method"], e["path"], e["status"], e["query"]))
    check_records(sample, rows, expected)
