"""Parse throughput per format: records/s through expand -> to_native -> normalize.

Builds about 20,000 records per format by repeating the samples in shared/formats (or
$CONFLICTWATCH_SHARED_FORMATS), times the best of a few runs, and prints each format next to
`native` measured in the same run. Figures only: always exits 0.

    .venv/bin/python bench/formats.py [--records N] [--runs N]
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.decode import split_items  # noqa: E402
from ingest.formats import expand, otlp, to_native  # noqa: E402
from ingest.normalize import normalize  # noqa: E402
from ingest.record import RecordError  # noqa: E402


def shared_formats() -> Path:
    default = ROOT.parent / "shared" / "formats"
    if default.is_dir():
        return default
    return Path(os.environ.get("CONFLICTWATCH_SHARED_FORMATS", str(default)))


# name shown, ?format= value, sample files (relative to shared/formats)
CASES = [
    ("native", "native", ["native/batch.ndjson"]),
    ("kong", "kong", ["kong/batch.json"]),
    ("apisix", "apisix", ["apisix/batch.json"]),
    ("apipark", "apipark", ["apipark/requests.ndjson"]),
    ("nginx json", "nginx", ["nginx/access.ndjson"]),
    ("nginx combined", "nginx", []),  # built from the nginx JSON sample below
    ("envoy", "envoy", ["envoy/access.ndjson"]),
    ("traefik", "traefik", ["traefik/access.ndjson"]),
    ("caddy", "caddy", ["caddy/access.ndjson"]),
    ("aws", "aws", ["aws/records.ndjson"]),
    ("aws firehose", "aws", ["aws/firehose.json"]),
    ("vector (message)", "nginx", ["vector/batch.ndjson"]),
    ("fluentbit json_lines", "nginx", ["fluentbit/json_lines.ndjson"]),
    ("logstash json_batch", "nginx", ["logstash/json_batch.json"]),
]


def combined_lines(shared: Path) -> list[str]:
    import json

    lines = []
    for raw in (shared / "nginx" / "access.ndjson").read_text().splitlines():
        r = json.loads(raw)
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(float(r["msec"])))
        lines.append(
            f"{r['remote_addr']} - {r['remote_user'] or '-'} [{when}] "
            f'"{r["request_method"]} {r["request_uri"]} HTTP/1.1" {r["status"]} '
            f'{r["bytes_sent"]} "-" "{r["http_user_agent"]}"'
        )
    return lines


def items_for(shared: Path, name: str, files: list[str]) -> list:
    if name == "nginx combined":
        return combined_lines(shared)
    items = []
    for rel in files:
        items += [item.value for item in split_items((shared / rel).read_bytes())]
    return items


def records_per_item(items: list, fmt: str) -> int:
    return sum(1 for item in items for _ in expand(item))


def run(items: list, fmt: str | None) -> tuple[float, int]:
    start = time.perf_counter()
    accepted = 0
    for item in items:
        for obj in expand(item):
            try:
                normalize(to_native(obj, fmt))
                accepted += 1
            except RecordError:
                pass
    return time.perf_counter() - start, accepted


class Native:
    """The native baseline, re-measured next to every format so that a busy machine slows both
    alike; its best rate over the whole run is the reference."""

    def __init__(self, items: list):
        self.items = items
        self.rate = 0.0

    def measure(self) -> None:
        elapsed, accepted = run(self.items, "native")
        self.rate = max(self.rate, accepted / elapsed)


def otlp_rate(shared: Path, target: int, runs: int) -> tuple[float, int] | None:
    path = shared / "otlp" / "traces.json"
    if not path.is_file():
        return None
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = otlp.parse_traces_json(path.read_bytes())
    spans = len(otlp.map_traces(request).records)
    body = request.SerializeToString()
    copies = max(1, target // max(spans, 1))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(copies):
            for record in otlp.map_traces(ExportTraceServiceRequest.FromString(body)).records:
                normalize(record)
        times.append(time.perf_counter() - start)
    return min(times), copies * spans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    shared = shared_formats()
    if not shared.is_dir():
        print(f"no samples at {shared}; set CONFLICTWATCH_SHARED_FORMATS")
        return 0

    rows = []
    native = None
    for name, fmt, files in CASES:
        base = items_for(shared, name, files)
        per_round = records_per_item(base, fmt)
        items = base * max(1, args.records // max(per_round, 1))
        if native is None:
            native = Native(items)
        times, detected_times = [], []
        accepted = 0
        for _ in range(args.runs):
            native.measure()
            elapsed, accepted = run(items, fmt)
            times.append(elapsed)
            detected_times.append(run(items, None)[0])
        rows.append((name, fmt, accepted, accepted / min(times), accepted / min(detected_times)))

    native_rate = native.rate
    print(
        f"python {sys.version.split()[0]}, best of {args.runs} runs, expand -> to_native -> "
        f"normalize; reference: native at {native_rate:,.0f} rec/s (its best run, re-measured "
        "next to every format)"
    )
    print(
        f"{'format':<22}{'?format=':<10}{'records':>8}{'rec/s':>11}{'x native':>10}"
        f"{'detected rec/s':>16}{'x native':>10}"
    )
    for name, fmt, accepted, rate, detected_rate in rows:
        print(
            f"{name:<22}{fmt:<10}{accepted:>8}{rate:>11,.0f}{rate / native_rate:>10.2f}"
            f"{detected_rate:>16,.0f}{detected_rate / native_rate:>10.2f}"
        )
    measured = otlp_rate(shared, args.records, args.runs)
    native.measure()
    if measured:
        elapsed, spans = measured
        rate = spans / elapsed
        print(
            f"{'otlp traces (protobuf)':<22}{'-':<10}{spans:>8}{rate:>11,.0f}"
            f"{rate / native_rate:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # figures only: a broken run still exits 0
        print(f"benchmark failed: {exc!r}")
    sys.exit(0)
