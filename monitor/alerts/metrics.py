"""A rule's metric read from the minute rollups (never from raw requests).

`measure(rule, minute)` answers the value over the `window_minutes` whole minutes before
`minute`; `per_minute(rule, end)` the same metric minute by minute, for the mail's sparkline.
"""

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, Sum

from monitor.alerts.models import AlertRule, Metric
from monitor.reads import series
from monitor.reads.timerange import TimeRange
from monitor.reads.totals import Filters, latency_rows, status_rows
from monitor.rules.latency import quantile
from monitor.rules.timebuckets import MINUTE


@dataclass(frozen=True)
class Reading:
    """The metric's value, or None when there is no verdict (too little traffic, no baseline)."""

    value: float | None
    requests: int
    details: dict = field(default_factory=dict)


def window(rule: AlertRule, minute: datetime) -> TimeRange:
    return TimeRange(minute - timedelta(minutes=rule.window_minutes), minute)


def status_q(spec: str) -> Q:
    """Rollup rows whose status matches "409" or a class such as "5xx"."""
    if spec.endswith("xx"):
        base = int(spec[0]) * 100
        return Q(status__gte=base, status__lt=base + 100)
    return Q(status=int(spec))


def _hits_q(rule: AlertRule) -> Q:
    """The rows the metric counts: conflicts (of a cause/status), or a status for status_rate."""
    if rule.metric == Metric.STATUS_RATE:
        return status_q(rule.status)
    q = ~Q(cause="")
    if rule.cause:
        q &= Q(cause=rule.cause)
    if rule.status:
        q &= status_q(rule.status)
    return q


def _filters(rule: AlertRule) -> Filters:
    return Filters(endpoint=rule.endpoint_id)


def _counts(rule: AlertRule, rng: TimeRange) -> tuple[int, int]:
    agg = status_rows(rule.project, rng, _filters(rule)).aggregate(
        requests=Sum("n"), hits=Sum("n", filter=_hits_q(rule))
    )
    return agg["requests"] or 0, agg["hits"] or 0


def _histogram(rule: AlertRule, rng: TimeRange) -> dict[int, int]:
    rows = latency_rows(rule.project, rng, _filters(rule)).values("bucket").annotate(t=Sum("n"))
    return {row["bucket"]: row["t"] for row in rows}


def measure(rule: AlertRule, minute: datetime) -> Reading:
    """The rule's metric over the window that ends at `minute` (exclusive)."""
    rng = window(rule, minute)
    if rule.metric == Metric.P95_MS:
        hist = _histogram(rule, rng)
        requests = sum(hist.values())
        if requests < rule.min_requests:
            return Reading(None, requests, {"reason": "too little traffic"})
        return Reading(quantile(hist, 0.95), requests)
    requests, hits = _counts(rule, rng)
    if rule.metric == Metric.CONFLICTS:
        return Reading(float(hits), requests, {"conflicts": hits})
    if rule.metric == Metric.ANOMALY:
        return _anomaly(rule, minute, requests, hits)
    if requests < rule.min_requests:
        return Reading(None, requests, {"reason": "too little traffic", "hits": hits})
    return Reading(round(hits / requests, 6), requests, {"hits": hits})


def _anomaly(rule: AlertRule, minute: datetime, requests: int, conflicts: int) -> Reading:
    """Conflict rate now over the median rate of the same window on each of the past days.

    Days with less than `min_requests` traffic in that window do not count; fewer than
    ALERTS_ANOMALY_MIN_DAYS usable days give no verdict. The baseline has a floor
    (ALERTS_ANOMALY_RATE_FLOOR) so that a project that never conflicts does not fire on its
    first few conflicts.
    """
    if requests < rule.min_requests:
        return Reading(None, requests, {"reason": "too little traffic"})
    rate = conflicts / requests
    past = []
    for days in range(1, settings.ALERTS_ANOMALY_BASELINE_DAYS + 1):
        then_requests, then_conflicts = _counts(rule, window(rule, minute - timedelta(days=days)))
        if then_requests >= rule.min_requests:
            past.append(then_conflicts / then_requests)
    details = {"rate": round(rate, 6), "days": len(past)}
    if len(past) < settings.ALERTS_ANOMALY_MIN_DAYS:
        return Reading(None, requests, {**details, "reason": "not enough history"})
    baseline = statistics.median(past)
    details["baseline"] = round(baseline, 6)
    value = rate / max(baseline, settings.ALERTS_ANOMALY_RATE_FLOOR)
    return Reading(round(value, 4), requests, details)


def per_minute(rule: AlertRule, end: datetime, minutes: int = 60) -> list[float | None]:
    """The metric for each whole minute of the `minutes` before `end` (None: no traffic)."""
    rng = TimeRange(end - timedelta(minutes=minutes), end)
    slots = [rng.start + timedelta(minutes=i) for i in range(minutes)]
    if rule.metric == Metric.P95_MS:
        hists = series.histograms(rule.project, rng, MINUTE, _filters(rule)).get(None, {})
        p95 = series.quantiles(hists, 0.95)
        return [p95.get(m) for m in slots]
    by_minute = {
        row["minute"]: (row["requests"], row["hits"] or 0)
        for row in status_rows(rule.project, rng, _filters(rule))
        .values("minute")
        .annotate(requests=Sum("n"), hits=Sum("n", filter=_hits_q(rule)))
    }
    values: list[float | None] = []
    for m in slots:
        requests, hits = by_minute.get(m, (0, 0))
        if rule.metric == Metric.CONFLICTS:
            values.append(float(hits))
        else:
            values.append(hits / requests if requests else None)
    return values
