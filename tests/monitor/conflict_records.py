"""Native records for the conflict tests: times in seconds from an hour ago."""

from datetime import UTC, datetime, timedelta

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def rec(seconds: float, method: str, path: str, status: int, client: str, **extra) -> dict:
    ts = (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    return {
        "ts": ts,
        "method": method,
        "path": path,
        "status": status,
        "client": client,
        "request_id": f"{client}-{method}-{status}-{seconds}",
        **extra,
    }
