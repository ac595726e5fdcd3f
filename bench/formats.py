"""Parse throughput per format: records/s from request bodies to normalized records.

Builds about 20,000 records per format by repeating the samples in tests/data/formats and times the best of a few runs two ways, each printed next to
`native` measured in the same run:

- from the body: the bytes a gateway sends (batches of about 1,000 lines for line formats, the
  sample document for JSON documents, the protobuf body for OTLP) through decode -> expand ->
  to_native -> normalize: what ingest does per record;
- from decoded values: JSON already decoded (the OTLP message already parsed), so only the
  mapping and normalize are timed.

OTLP traces are timed from a protobuf body and from an OTLP/JSON body (the sample as sent).

Figures only: always exits 0.

    .venv/bin/python bench/formats.py [--records N] [--runs N]
"""

import argparse
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.decode import split_items  # noqa: E402
from ingest.formats import expand, otlp, otlp_json, to_native  # noqa: E402
from ingest.normalize import normalize  # noqa: E402
from ingest.record import RecordError  # noqa: E402

SAMPLES = ROOT / "tests" / "data" / "formats"


# name shown, ?format= value, sample files (relative to tests/data/formats)
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


LINES_PER_BODY = 1_000


def bodies_for(shared: Path, name: str, files: list[str], records: int) -> list[bytes]:
    """Request bodies holding about `records` records of the case's samples."""
    if name == "nginx combined":
        lines = [line.encode() for line in combined_lines(shared)]
    else:
        lines = []
        for rel in files:
            data = (shared / rel).read_bytes()
            if rel.endswith(".ndjson"):
                lines += [line for line in data.splitlines() if line.strip()]
            else:
                # A JSON document (an object, an array, a Firehose envelope) is one body.
                per_body = records_per_item([i.value for i in split_items(data)])
                return [data] * max(1, records // max(per_body, 1))
    lines = lines * max(1, records // len(lines))
    return [
        b"\n".join(lines[start : start + LINES_PER_BODY])
        for start in range(0, len(lines), LINES_PER_BODY)
    ]


def records_per_item(items: list) -> int:
    return sum(1 for item in items for _ in expand(item))


def parse_values(items: list, fmt: str | None) -> int:
    accepted = 0
    for item in items:
        for obj in expand(item):
            try:
                normalize(to_native(obj, fmt))
                accepted += 1
            except RecordError:
                pass
    return accepted


def parse_bodies(bodies: list[bytes], fmt: str | None) -> int:
    return sum(parse_values([item.value for item in split_items(body)], fmt) for body in bodies)


def timed(fn, *args) -> tuple[float, int]:
    # The data sets this benchmark holds are frozen out of the garbage collector's sight, as a
    # server's long-lived objects are: collections then cost what the parse itself allocates.
    gc.collect()
    gc.freeze()
    try:
        start = time.perf_counter()
        accepted = fn(*args)
        return time.perf_counter() - start, accepted
    finally:
        gc.unfreeze()


class Native:
    """The native baseline, re-measured next to every format so that a busy machine slows both
    alike; its best rates over the whole run are the reference."""

    def __init__(self, bodies: list[bytes]):
        self.bodies = bodies
        self.items = [item.value for body in bodies for item in split_items(body)]
        self.body_rate = self.values_rate = 0.0

    def measure(self) -> None:
        elapsed, accepted = timed(parse_bodies, self.bodies, "native")
        self.body_rate = max(self.body_rate, accepted / elapsed)
        elapsed, accepted = timed(parse_values, self.items, "native")
        self.values_rate = max(self.values_rate, accepted / elapsed)


def otlp_rates(shared: Path, target: int, runs: int, native: Native) -> tuple | None:
    """(spans, rate from the protobuf body, rate from the parsed message, rate from the JSON
    body)."""
    path = shared / "otlp" / "traces.json"
    if not path.is_file():
        return None
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    json_body = path.read_bytes()
    request = otlp.parse_traces_json(json_body)
    spans = len(otlp.map_traces(request).records)
    body = request.SerializeToString()
    copies = max(1, target // max(spans, 1))

    def from_bodies() -> int:
        return sum(
            len(
                [
                    normalize(r)
                    for r in otlp.map_traces(ExportTraceServiceRequest.FromString(body)).records
                ]
            )
            for _ in range(copies)
        )

    def from_messages(messages: list) -> int:
        return sum(len([normalize(r) for r in otlp.map_traces(m).records]) for m in messages)

    def from_json_bodies() -> int:
        return sum(
            len([normalize(r) for r in otlp_json.map_traces(json_body).records])
            for _ in range(copies)
        )

    body_times, message_times, json_times = [], [], []
    for _ in range(runs):
        native.measure()
        body_times.append(timed(from_bodies)[0])
        # Fresh messages each run: protobuf caches the Python objects of what was read once.
        messages = [ExportTraceServiceRequest.FromString(body) for _ in range(copies)]
        message_times.append(timed(from_messages, messages)[0])
        json_times.append(timed(from_json_bodies)[0])
    total = copies * spans
    return total, total / min(body_times), total / min(message_times), total / min(json_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    shared = SAMPLES

    rows = []
    native = None
    for name, fmt, files in CASES:
        bodies = bodies_for(shared, name, files, args.records)
        items = [item.value for body in bodies for item in split_items(body)]
        if native is None:
            native = Native(bodies)
        body_times, value_times, detected_times = [], [], []
        accepted = 0
        for _ in range(args.runs):
            native.measure()
            elapsed, accepted = timed(parse_bodies, bodies, fmt)
            body_times.append(elapsed)
            value_times.append(timed(parse_values, items, fmt)[0])
            detected_times.append(timed(parse_bodies, bodies, None)[0])
        rows.append(
            (
                name,
                fmt,
                accepted,
                *(accepted / min(t) for t in (body_times, value_times, detected_times)),
            )
        )
    measured = otlp_rates(shared, args.records, args.runs, native)

    print(
        f"python {sys.version.split()[0]}, best of {args.runs} runs; reference: native at "
        f"{native.body_rate:,.0f} rec/s from the body, {native.values_rate:,.0f} rec/s from "
        "decoded values (its best runs, re-measured next to every format)"
    )
    print(
        f"{'format':<24}{'?format=':<10}{'records':>8}{'body rec/s':>12}{'x native':>9}"
        f"{'values rec/s':>14}{'x native':>9}{'detected rec/s':>16}{'x native':>9}"
    )
    for name, fmt, accepted, body_rate, values_rate, detected_rate in rows:
        print(
            f"{name:<24}{fmt:<10}{accepted:>8}{body_rate:>12,.0f}{body_rate / native.body_rate:>9.2f}"
            f"{values_rate:>14,.0f}{values_rate / native.values_rate:>9.2f}"
            f"{detected_rate:>16,.0f}{detected_rate / native.body_rate:>9.2f}"
        )
    body_rates = [(name, body_rate) for name, _, _, body_rate, _, _ in rows]
    if measured:
        spans, body_rate, message_rate, json_rate = measured
        print(
            f"{'otlp traces (protobuf)':<24}{'-':<10}{spans:>8}{body_rate:>12,.0f}"
            f"{body_rate / native.body_rate:>9.2f}{message_rate:>14,.0f}"
            f"{message_rate / native.values_rate:>9.2f}"
        )
        print(
            f"{'otlp traces (json)':<24}{'-':<10}{spans:>8}{json_rate:>12,.0f}"
            f"{json_rate / native.body_rate:>9.2f}"
        )
        body_rates += [("otlp traces (protobuf)", body_rate), ("otlp traces (json)", json_rate)]
    lowest, lowest_rate = min(body_rates, key=lambda named: named[1])
    print(
        f"lowest from the body: {lowest} at {lowest_rate / native.body_rate:.2f} x native. "
        "An OTLP protobuf message builds its Python objects as the mapping reads it, so its "
        "'from values' figure also holds work that JSON formats do in decoding."
    )
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # figures only: a broken run still exits 0
        print(f"benchmark failed: {exc!r}")
    sys.exit(0)
