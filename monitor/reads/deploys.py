"""Deploys as pages, charts and alerts read them: those in a range, the one that preceded an
incident, and an endpoint's hour after a deploy against the hour before (from the rollups)."""

from datetime import datetime, timedelta

from django.utils import timezone

from monitor.models import Deploy, Project
from monitor.reads import totals
from monitor.reads.timerange import TimeRange

# A deploy this long before an alert's window may still be what started the rise.
LEAD = timedelta(hours=1)
COMPARED = timedelta(hours=1)
SHOWN = 50


def in_range(project: Project, rng: TimeRange, limit: int = SHOWN) -> list[Deploy]:
    """The project's deploys within the range, oldest first (at most `limit`, the latest)."""
    rows = Deploy.objects.filter(project=project, ts__gte=rng.start, ts__lt=rng.end)
    return list(rows.order_by("-ts", "-id")[:limit])[::-1]


def preceding(project: Project, at: datetime, window_minutes: int) -> Deploy | None:
    """The latest deploy in the rule's window before `at` or within LEAD before that window."""
    since = at - timedelta(minutes=window_minutes) - LEAD
    return (
        Deploy.objects.filter(project=project, ts__gte=since, ts__lte=at)
        .order_by("-ts", "-id")
        .first()
    )


def as_data(deploy: Deploy) -> dict:
    """A deploy as plain data (kept in an incident's details, sent in webhooks)."""
    return {
        "id": deploy.id,
        "version": deploy.version,
        "ts": deploy.ts.isoformat().replace("+00:00", "Z"),
        "environment": deploy.environment,
        "url": deploy.url,
    }


ROWS = [
    ("Requests", "requests", "count"),
    ("Conflicts", "conflicts", "count"),
    ("Conflict rate", "conflict_rate", "rate"),
    ("5xx rate", "error_rate", "rate"),
    ("p95 latency", "p95_ms", "ms"),
]


def _figures(summary: dict) -> dict:
    requests = summary["requests"]
    errors = sum(n for status, n in summary["by_status"].items() if status.startswith("5"))
    return {
        "requests": requests,
        "conflicts": summary["conflicts"],
        "conflict_rate": summary["conflict_rate"],
        "error_rate": round(errors / requests, 6) if requests else 0.0,
        "p95_ms": summary["p95_ms"],
    }


def comparison(project: Project, deploy: Deploy, f: totals.Filters = totals.Filters()) -> dict:  # noqa: B008
    """The hour after the deploy against the hour before, from the rollups: rows of
    {"name", "kind" (count, rate, ms), "before", "after", "delta"} for requests, conflicts,
    conflict rate, 5xx rate and p95; `complete` is False while the hour after is running."""
    at = deploy.ts.replace(second=0, microsecond=0)
    hours = [TimeRange(at - COMPARED, at), TimeRange(at, at + COMPARED)]
    before, after = (_figures(s) for s in totals.summaries(project, hours, f))
    rows = []
    for name, key, kind in ROWS:
        b, a = before[key], after[key]
        delta = None if a is None or b is None else round(a - b, 6)
        rows.append({"name": name, "kind": kind, "before": b, "after": a, "delta": delta})
    return {
        "deploy": deploy,
        "rows": rows,
        "before": before,
        "after": after,
        "after_ends": at + COMPARED,
        "complete": at + COMPARED <= timezone.now(),
    }
