"""What a hostile ingest request costs: seconds to answer bodies built to make decoding slow (a
million tiny gzip members, ten million one-byte lines, an array of seven million objects, the
longest records), each next to a normal 1,000-record batch timed in the same run.

The requests go through Django's handler in this process (no network, no gunicorn), against
DATABASE_URL or a temporary SQLite database. Figures only: always exits 0.

    .venv/bin/python bench/hostile.py
"""

import gzip
import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
_tmp = tempfile.TemporaryDirectory(prefix="cw-bench-hostile-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp.name}/bench.sqlite3")
os.environ.pop("CELERY_BROKER_URL", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from google.rpc.status_pb2 import Status  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
)

from ingest.sources import create_source  # noqa: E402

MIB = 1024 * 1024
PROTOBUF = "application/x-protobuf"
NOW = datetime.now(UTC)


def normal_batch(offset: int) -> bytes:
    records = [
        {
            "ts": (NOW - timedelta(seconds=i)).isoformat(),
            "method": "PUT" if i % 5 == 0 else "GET",
            "path": f"/v1/orders/{i % 500}",
            "status": 409 if i % 17 == 0 else 200,
            "duration_ms": 12.5,
            "client": f"client-{i % 7}",
            "request_id": f"bench-{offset}-{i}",
        }
        for i in range(1000)
    ]
    return "\n".join(json.dumps(r) for r in records).encode()


def long_records() -> bytes:
    """Records at every size bound: an 8 KiB path (incompressible), 4-byte-character texts."""
    import random
    import string

    rnd = random.Random(3)
    lines, size, i = [], 0, 0
    while size < 19 * MIB:
        path = "/v1/blobs/" + "".join(rnd.choices(string.ascii_letters + string.digits, k=8000))
        rec = {
            "ts": NOW.isoformat(),
            "method": "PUT",
            "path": path,
            "status": 409,
            "client": "\U0001f600" * 300,
            "user_agent": "\U0001f916" * 600,
            "request_id": f"long-{i}",
        }
        line = json.dumps(rec).encode()
        lines.append(line)
        size += len(line) + 1
        i += 1
    return b"\n".join(lines)


def post(client: Client, token: str, body: bytes, content_type: str, **headers) -> tuple:
    """(seconds, status, the answer's error or counts); a protobuf body goes to OTLP."""
    url = "/ingest/otlp/v1/traces" if content_type == PROTOBUF else "/ingest/v1/logs"
    start = time.perf_counter()
    response = client.post(
        url, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}", **headers
    )
    seconds = time.perf_counter() - start
    if content_type == PROTOBUF:
        said = Status.FromString(response.content).message if response.status_code != 200 else ""
    else:
        answer = response.json()
        said = answer.get("error") or f"{answer.get('accepted')} accepted"
    return seconds, response.status_code, said


def empty_spans() -> bytes:
    """An OTLP export of 20 MiB of empty SERVER spans (five million of them)."""
    export = ExportTraceServiceRequest()
    spans = export.resource_spans.add().scope_spans.add().spans
    for _ in range(20 * MIB // 4 - 8):
        spans.add(kind=2)
    return export.SerializeToString()


def main() -> int:
    call_command("migrate", verbosity=0)
    _, token = create_source("bench-hostile", "bench")
    client = Client(raise_request_exception=False)
    gz = {"HTTP_CONTENT_ENCODING": "gzip"}
    member = gzip.compress(b"\n", mtime=0)
    cases = [
        (
            "a million gzip members (22 MB, limit raised to 32 MiB)",
            member * 1_000_000,
            "text/plain",
            gz,
            32,
        ),
        ("20 MiB of tiny gzip members", member * (20 * MIB // len(member)), "text/plain", gz, None),
        ("10 million one-byte lines (20 MiB)", b"x\n" * (10 * MIB), "text/plain", {}, None),
        (
            "an array of 6.5 million objects (19.5 MiB)",
            b"[" + b"{}," * (13 * MIB // 2 - 1) + b"{}]",
            "application/json",
            {},
            None,
        ),
        ("19 MiB of records at every size bound", long_records(), "application/x-ndjson", {}, None),
        ("OTLP: 5 million empty server spans (20 MiB)", empty_spans(), PROTOBUF, {}, None),
    ]
    logging.disable(logging.WARNING)  # the 4xx answers' log lines
    baseline = min(
        post(client, token, normal_batch(run), "application/x-ndjson")[0] for run in range(3)
    )
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"baseline: a normal 1,000-record NDJSON batch answered in {baseline:.3f} s")
    print(f"{'body':58} {'answer':>6} {'seconds':>8} {'x batch':>8}")
    for name, body, content_type, headers, limit_mib in cases:
        previous = settings.CONFLICTWATCH_MAX_BODY_BYTES
        if limit_mib:
            settings.CONFLICTWATCH_MAX_BODY_BYTES = limit_mib * MIB
        try:
            seconds, status, said = post(client, token, body, content_type, **headers)
        finally:
            settings.CONFLICTWATCH_MAX_BODY_BYTES = previous
        print(f"{name:58} {status:>6} {seconds:>8.2f} {seconds / baseline:>8.1f}  {said[:60]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
