"""Alert fixtures: a real SMTP server (aiosmtpd) in the test process, Django's SMTP backend
pointed at it, traffic posted through the real ingest endpoint, and evaluation that runs what
commit enqueues (mail delivery) like production does."""

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.evaluate import evaluate_rules
from monitor.alerts.models import AlertRule
from tests.mail import Mailbox, SMTPServer, free_port, mailbox, smtp_server  # noqa: F401

OPS = "ops@example.com"


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks):
    """One evaluation pass as of `at`, then what its commits enqueued (sending the mail)."""

    def run(at: datetime) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return evaluate_rules(at)

    return run


# Whole minutes, well in the past (ingest accepts up to a day ahead; rollups keep 35 days).
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)


def minute(m: int) -> datetime:
    return T0 + timedelta(minutes=m)


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def records_for(
    start: datetime, requests: int, conflicts: int, *, tag: str, span_seconds: float = 60.0, **extra
) -> list[dict]:
    """`requests` records spread over `span_seconds` from `start`; the first `conflicts` of them
    are 409s on a PUT that sent If-Match (stale_version), the rest are 200 GETs."""
    out = []
    for i in range(requests):
        ts = start + timedelta(seconds=span_seconds * i / max(requests, 1))
        conflict = i < conflicts
        rec = {
            "ts": iso(ts),
            "method": "PUT" if conflict else "GET",
            "path": f"/v1/orders/{i % 7 + 1}",
            "status": 409 if conflict else 200,
            "duration_ms": 20 + i % 13,
            "client": "acme-mobile" if conflict else "web-frontend",
            "request_id": f"{tag}-{i}",
        }
        if conflict:
            rec["request_headers"] = {"if-match": '"v1"'}
        rec.update(extra)
        out.append(rec)
    return out


def per_minute(post_logs, rates: list[tuple[int, int]], *, first_minute: int = 0, tag: str = "t"):
    """Post one minute of traffic per (requests, conflicts) pair, starting at `first_minute`."""
    batch = []
    for i, (requests, conflicts) in enumerate(rates):
        m = first_minute + i
        batch += records_for(minute(m), requests, conflicts, tag=f"{tag}{m}")
    response = post_logs(batch)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == len(batch)


@pytest.fixture
def make_rule(shop):
    def make(**fields) -> AlertRule:
        values = {
            "name": "Conflict rate above 20%",
            "metric": "conflict_rate",
            "threshold": 0.2,
            "window_minutes": 5,
            "recipients": [OPS],
            "cooldown_minutes": 10,
            "min_requests": 10,
            **fields,
        }
        rule = AlertRule(project=shop, **values)
        rule.full_clean()
        rule.save()
        return rule

    return make


@pytest.fixture
def receivers(settings):
    """Start real HTTP receivers on free local ports: receivers(secret=..., status=...)."""
    from tests.alerts.receivers import Receiver

    settings.CONFLICTWATCH_BASE_URL = "https://cw.example.com"
    settings.ALERTS_WEBHOOK_TIMEOUT = 5
    # The receivers listen on loopback, which messages reach only when an operator allows it.
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    started: list[Receiver] = []

    def make(*, start: bool = True, **options) -> Receiver:
        receiver = Receiver(free_port(), **options)
        started.append(receiver)
        return receiver.start() if start else receiver

    yield make
    for receiver in started:
        receiver.stop()
