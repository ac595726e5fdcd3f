"""Native records for tests."""

from datetime import UTC, datetime, timedelta

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def record(i: int = 0, **fields) -> dict:
    rec = {
        "ts": (BASE + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        "method": "GET",
        "path": f"/v1/orders/{i}",
        "status": 200,
        "duration_ms": 10 + i % 7,
        "client": "acme",
        "request_id": f"req-{i}",
    }
    rec.update(fields)
    return rec
