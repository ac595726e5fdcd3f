"""The gateway and shipper samples (tests/data/formats: real bodies of each format with the
native records each must become in `expected/`): where they are, which format each is, and how
a normalized record or stored row is compared with its `expected/` record.

The samples were captured on 2025-03-14, and ingest rejects records older than
CONFLICTWATCH_MAX_RECORD_AGE_DAYS: tests read a copy of them (and of their expected records)
moved by whole days to yesterday, so that every time of day, and so every parsed value but the
date, stays as captured.
"""

import atexit
import base64
import re
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

SAMPLE_DAY = date(2025, 3, 14)
# Epoch seconds of the sample day, alone or leading milli-, micro- and nanoseconds.
_EPOCH = re.compile(rb"(?<![0-9])17419[0-9]{5}")
# Kinesis Firehose carries its records base64-encoded.
_FIREHOSE_DATA = re.compile(rb'("data"\s*:\s*")([A-Za-z0-9+/=]+)(")')


def days_moved() -> int:
    """Whole days from the sample day to yesterday (UTC)."""
    return (datetime.now(UTC).date() - timedelta(days=1) - SAMPLE_DAY).days


def moved(data: bytes, days: int | None = None) -> bytes:
    """Sample text with every date and epoch time of the sample day moved by `days` days."""
    days = days_moved() if days is None else days
    day = SAMPLE_DAY + timedelta(days=days)

    def firehose(match: re.Match) -> bytes:
        try:
            inner = base64.b64decode(match.group(2), validate=True)
        except ValueError:
            return match.group(0)
        return match.group(1) + base64.b64encode(moved(inner, days)) + match.group(3)

    data = _FIREHOSE_DATA.sub(firehose, data)
    data = data.replace(b"2025-03-14", day.isoformat().encode())
    data = data.replace(b"14/Mar/2025", day.strftime("%d/%b/%Y").encode())
    return _EPOCH.sub(lambda m: str(int(m.group()) + days * 86400).encode(), data)


def moved_text(text: str) -> str:
    return moved(text.encode()).decode()


def _moved_copy(source: Path) -> Path:
    """A temporary copy of the samples folder, every file moved (see the module docstring)."""
    target = Path(tempfile.mkdtemp(prefix="cw-samples-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    if not source.is_dir():
        return source
    for path in source.rglob("*"):
        if path.is_file():
            out = target / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(moved(path.read_bytes()))
    return target


# The samples as captured, in the repository.
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "formats"
SHARED = _moved_copy(SAMPLES)
# Shippers carry nginx's JSON lines in these samples (tests/data/formats/README.md, "Shippers").
SHIPPERS = {"vector": "nginx", "fluentbit": "nginx", "logstash": "nginx"}
# vector/batch.json carries the shipper's `host` ("edge-1") where nginx's $host should be, so
# nothing in it says api.shop.example; the parser keeps the record's own `host`.
SAMPLE_GAPS = {("vector", "batch.json"): {"host"}}
DURATION_TOLERANCE_MS = 0.001


def expected_file(sample: Path) -> Path | None:
    folder = sample.parent / "expected"
    for name in (sample.name.replace(".", "_") + ".json", sample.stem + ".json"):
        if (folder / name).is_file():
            return folder / name
    return None


def sample_cases(*, skip_folders=frozenset(), only_folders=None) -> list:
    """pytest params (sample, expected file) for every sample that has an expected file."""
    cases = []
    # Missing samples must fail the run, not quietly collect no cases.
    assert SHARED.is_dir(), f"the format samples are missing: {SHARED}"
    for folder in sorted(p for p in SHARED.iterdir() if p.is_dir()):
        if folder.name in skip_folders or (only_folders and folder.name not in only_folders):
            continue
        for sample in sorted(p for p in folder.iterdir() if p.is_file()):
            expected = expected_file(sample)
            if expected is not None:
                cases.append(pytest.param(sample, expected, id=f"{folder.name}/{sample.name}"))
    assert cases, f"no sample with an expected/ file under {SHARED}"
    return cases


def format_for(sample: Path) -> str:
    return SHIPPERS.get(sample.parent.name, sample.parent.name)


def ts_text(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def mismatches(record, expected: dict) -> dict:
    """{field: (got, want)} for every expected field the record (or stored row) differs in."""
    found = {}
    for name, want in expected.items():
        got = ts_text(record.ts) if name == "ts" else getattr(record, name)
        if name == "duration_ms" and got is not None and want is not None:
            if abs(got - want) > DURATION_TOLERANCE_MS:
                found[name] = (got, want)
        elif got != want:
            found[name] = (got, want)
    return found


def check_records(sample: Path, records: list, expected: list[dict]) -> None:
    """Assert the records equal the expected ones field by field (in order); a gap the sample
    itself cannot fill is an xfail naming it."""
    assert len(records) == len(expected)
    gaps = SAMPLE_GAPS.get((sample.parent.name, sample.name), set())
    gap_mismatches = []
    for index, (record, want) in enumerate(zip(records, expected, strict=True)):
        found = mismatches(record, want)
        real = {k: v for k, v in found.items() if k not in gaps}
        assert not real, f"record {index}: {real}"
        gap_mismatches += [f"record {index} {k}: {v}" for k, v in found.items()]
    if gap_mismatches:
        pytest.xfail(f"sample lacks the data: {gap_mismatches[0]}")
