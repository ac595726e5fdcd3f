"""The gateway and shipper samples (tests/data/formats: real bodies of each format with the
native records each must become in `expected/`): where they are, which format each is, and how
a normalized record or stored row is compared with its `expected/` record."""

from datetime import datetime
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1] / "data" / "formats"
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
