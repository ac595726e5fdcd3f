"""Projects, their members and endpoints, and the rollups the dashboards read."""

from django.conf import settings
from django.db import models


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Seconds within which another client's successful write makes a 409 a race.
    race_window_seconds = models.FloatField(default=5.0)
    # Extra request/response header names to keep, beyond the built-in allow-list.
    extra_headers = models.JSONField(default=list, blank=True)
    # Extra header names to drop as secrets, beyond the built-in list.
    secret_headers = models.JSONField(default=list, blank=True)
    # Route patterns that win over derivation, e.g. "/v1/orders/{id}/items/{item}".
    route_patterns = models.JSONField(default=list, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"
        MEMBER = "member"
        READONLY = "readonly"

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]


class Endpoint(models.Model):
    """One method + route template of a project, created on first sight by ingest."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="endpoints")
    method = models.CharField(max_length=16)
    route = models.CharField(max_length=512)
    first_seen = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "method", "route"], name="endpoint_unique"),
        ]
        ordering = ["route", "method"]

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


class StatusRollup(models.Model):
    """Requests per endpoint × minute × status × conflict cause ('' when not a conflict).

    Filled only by additive upserts from aggregation (monitor/rollups.py).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE)
    minute = models.DateTimeField()
    status = models.SmallIntegerField()
    cause = models.CharField(max_length=32, default="")
    n = models.BigIntegerField(default=0)
    duration_ms_sum = models.FloatField(default=0)
    # Writes (POST/PUT/PATCH/DELETE) and those that sent If-Match / If-Unmodified-Since.
    writes = models.BigIntegerField(default=0)
    conditional_writes = models.BigIntegerField(default=0)

    class Meta:
        db_table = "monitor_rollup_status_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "status", "cause"],
                name="rollup_status_minute_key",
            ),
        ]


class LatencyRollup(models.Model):
    """Latency histogram per endpoint × minute: count per logarithmic bucket (monitor/latency.py)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE)
    minute = models.DateTimeField()
    bucket = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        db_table = "monitor_rollup_latency_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "bucket"],
                name="rollup_latency_minute_key",
            ),
        ]
