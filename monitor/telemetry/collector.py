"""Gauges read from the database when Prometheus scrapes: the aggregation backlog and lag, the
alert message queue, and how long ago alert rules were last evaluated. They describe the whole
deployment (every worker and host), so they come from the database, not from one process."""

from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Count, Max, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ingest.models import IngestBatch
from monitor.alerts.models import AlertRule, Notification

GIVEN_UP_SPAN = timedelta(hours=24)


def _gauge(name: str, documentation: str, labels=(), samples=()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels) or None)
    for label_values, value in samples:
        family.add_metric(list(label_values), value)
    return family


class DatabaseCollector(Collector):
    """Collects the database gauges at scrape time (a handful of indexed aggregates)."""

    def collect(self):
        try:
            families = list(self._families())
        except DatabaseError:
            yield _gauge(
                "conflictwatch_database_up",
                "1 when the database answered the scrape.",
                samples=[((), 0)],
            )
            return
        yield _gauge(
            "conflictwatch_database_up",
            "1 when the database answered the scrape.",
            samples=[((), 1)],
        )
        yield from families

    def _families(self):
        now = timezone.now()
        pending = IngestBatch.objects.filter(status=IngestBatch.Status.PENDING).aggregate(
            n=Count("id"), oldest=Min("received_at")
        )
        yield _gauge(
            "conflictwatch_ingest_pending_batches",
            "Ingest batches stored and waiting for aggregation.",
            samples=[((), pending["n"])],
        )
        lag = (now - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0
        yield _gauge(
            "conflictwatch_aggregation_lag_seconds",
            "Age of the oldest batch waiting for aggregation (0 when none waits).",
            samples=[((), max(lag, 0.0))],
        )
        queued = (
            Notification.objects.filter(
                state__in=[Notification.State.PENDING, Notification.State.FAILED],
                next_attempt_at__isnull=False,
            )
            .values("via", "state")
            .annotate(n=Count("id"), oldest=Min("created_at"))
        )
        rows = {(r["via"], r["state"]): r for r in queued}
        queue, age = [], []
        for via in Notification.Via.values:
            oldest = None
            for state, shown in (
                (Notification.State.PENDING, "pending"),
                (Notification.State.FAILED, "retrying"),
            ):
                row = rows.get((via, state))
                queue.append(((via, shown), row["n"] if row else 0))
                if row and (oldest is None or row["oldest"] < oldest):
                    oldest = row["oldest"]
            age.append(((via,), (now - oldest).total_seconds() if oldest else 0.0))
        yield _gauge(
            "conflictwatch_alert_queue",
            "Alert messages not delivered yet, by channel (email, webhook, slack) and state "
            "(pending: first attempt due; retrying: failed, tried again later).",
            ["via", "state"],
            queue,
        )
        yield _gauge(
            "conflictwatch_alert_queue_oldest_seconds",
            "Age of the oldest alert message not delivered yet, by channel (0 when none).",
            ["via"],
            age,
        )
        given_up = dict(
            Notification.objects.filter(
                state=Notification.State.FAILED,
                next_attempt_at__isnull=True,
                created_at__gte=now - GIVEN_UP_SPAN,
            )
            .values_list("via")
            .annotate(n=Count("id"))
        )
        yield _gauge(
            "conflictwatch_alert_given_up",
            "Alert messages given up in the last 24 hours (every attempt failed, or the "
            "receiver refused them), by channel.",
            ["via"],
            [((via,), given_up.get(via, 0)) for via in Notification.Via.values],
        )
        evaluated = AlertRule.objects.filter(enabled=True).aggregate(last=Max("evaluated_minute"))
        if evaluated["last"] is not None:
            yield _gauge(
                "conflictwatch_alert_evaluation_age_seconds",
                "Seconds since the last evaluation of any enabled alert rule (beat runs it "
                "every minute).",
                samples=[((), (now - evaluated["last"]).total_seconds())],
            )
