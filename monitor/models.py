"""Projects, their members and endpoints, and the rollups the dashboards read."""

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# The longest race window a project may set: a winner's losers are looked up this far after it.
MAX_RACE_WINDOW_SECONDS = 3600.0
# Query parameters and request headers that carry the version a write expects (DESIGN.md,
# "Project settings").
DEFAULT_VERSION_PARAMS = ["rev", "_rev", "version", "if_match"]
DEFAULT_VERSION_HEADERS = ["if-match", "x-if-match", "x-expected-version", "if-unmodified-since"]
DEFAULT_MAX_ENDPOINTS = 2000
# Distinct values within a day under one parent route that make a segment a parameter.
DEFAULT_ROUTE_LEARNING_THRESHOLD = 100
# The endpoint new routes are counted under once a project has max_endpoints (per method).
OVERFLOW_ROUTE = "/{overflow}"


def default_version_params() -> list[str]:
    return list(DEFAULT_VERSION_PARAMS)


def default_version_headers() -> list[str]:
    return list(DEFAULT_VERSION_HEADERS)


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Seconds within which another client's successful write makes a 409 a race.
    race_window_seconds = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_RACE_WINDOW_SECONDS)],
    )
    # Extra request/response header names to keep, beyond the built-in allow-list.
    extra_headers = models.JSONField(default=list, blank=True)
    # Extra header names to drop as secrets, beyond the built-in list.
    secret_headers = models.JSONField(default=list, blank=True)
    # Route patterns that win over derivation, e.g. "/v1/orders/{id}/items/{item}".
    route_patterns = models.JSONField(default=list, blank=True)
    # Body phrases per conflict cause, beyond the built-in ones (monitor/rules/causes.py), e.g.
    # {"lock": ["in use"], "duplicate": ["already registered"]}; matched case-insensitively.
    conflict_phrases = models.JSONField(default=dict, blank=True)
    # Query parameters and request headers that carry the version a write expects.
    # The database holds the same defaults, so rows written outside Django (a restore, SQL)
    # get them too.
    version_params = models.JSONField(
        default=default_version_params, db_default=DEFAULT_VERSION_PARAMS, blank=True
    )
    version_headers = models.JSONField(
        default=default_version_headers, db_default=DEFAULT_VERSION_HEADERS, blank=True
    )
    # Past this many endpoints, new routes are counted under "{method} /{overflow}".
    max_endpoints = models.PositiveIntegerField(
        default=DEFAULT_MAX_ENDPOINTS,
        db_default=DEFAULT_MAX_ENDPOINTS,
        validators=[MinValueValidator(1)],
    )
    # Distinct values within a day that make a segment a learned parameter; 0 turns it off.
    route_learning_threshold = models.PositiveIntegerField(
        default=DEFAULT_ROUTE_LEARNING_THRESHOLD, db_default=DEFAULT_ROUTE_LEARNING_THRESHOLD
    )
    # Bumped whenever the project's routing changes (declared patterns, imported or learned
    # routes), so that ingest processes rebuild their route table (ingest/normalize.py).
    routes_version = models.PositiveIntegerField(default=0, db_default=0)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def race_window(self) -> timedelta:
        """The race window, held within 0 and MAX_RACE_WINDOW_SECONDS whatever was stored."""
        seconds = self.race_window_seconds
        if not 0.0 <= seconds <= MAX_RACE_WINDOW_SECONDS:  # also NaN
            seconds = MAX_RACE_WINDOW_SECONDS if seconds > MAX_RACE_WINDOW_SECONDS else 0.0
        return timedelta(seconds=seconds)


class Membership(models.Model):
    """A person's place in a project (DESIGN.md "Members"): a viewer reads everything of the
    project; an admin also changes its settings, sources, members and rules."""

    class Role(models.TextChoices):
        VIEWER = "viewer"
        ADMIN = "admin"

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class Invitation(models.Model):
    """An e-mail invitation to join a project with a role. The mailed link is signed and
    expires (monitor/team/invitations.py); it works once: accepting sets `accepted_at`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=16, choices=Membership.Role.choices, default=Membership.Role.VIEWER
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.project} ({self.role})"


class Endpoint(models.Model):
    """One method + route template of a project, created on first sight by ingest."""

    class Source(models.TextChoices):
        """Where the route template came from (ingest/routes.py)."""

        GATEWAY = "gateway"
        DECLARED = "declared"
        OPENAPI = "openapi"
        LEARNED = "learned"
        DERIVED = "derived"
        OVERFLOW = "overflow"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="endpoints")
    method = models.CharField(max_length=16)
    route = models.CharField(max_length=512)
    first_seen = models.DateTimeField(auto_now_add=True)
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.DERIVED, db_default=Source.DERIVED
    )
    # Set when a routing change (a learned, declared or imported template) merged this
    # endpoint into another: its counts and raw rows were moved there (monitor/routing/merge.py)
    # and records that still name it are counted there.
    merged_into = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="merged"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "method", "route"], name="endpoint_unique"),
        ]
        ordering = ["route", "method"]

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


class RouteRule(models.Model):
    """A route template a project got from its OpenAPI document, or a learned parameter.

    A learned rule says that under `parent` the next segment is a parameter (`template` is
    `parent` + `/{name}`); `evidence` keeps what it was learned from. Removing a learned rule
    keeps it with `removed_at` set, so that learning does not make it again.
    """

    class Source(models.TextChoices):
        OPENAPI = "openapi"
        LEARNED = "learned"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="route_rules")
    source = models.CharField(max_length=16, choices=Source.choices)
    template = models.CharField(max_length=512)
    # Learned rules: the template of the segments above the parameter.
    parent = models.CharField(max_length=512, blank=True, default="")
    # Imported templates: the document's methods for this path, upper case.
    methods = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source", "template"], name="route_rule_unique"
            ),
        ]
        ordering = ["template"]

    def __str__(self) -> str:
        return f"{self.source} {self.template}"


def rollup_reference(to: type[models.Model], **options) -> models.ForeignKey:
    """A rollup row's project or endpoint: a reference without a database constraint, as the
    raw table's (each was a check per new row at commit, a sixth of the aggregation's time on
    a log whose client rows are new for nearly every request). Rows are only written for ids
    aggregation has just read, endpoints are never deleted (merged ones stay), and a project's
    rows go with it through Django's cascade."""
    return models.ForeignKey(to, on_delete=models.CASCADE, db_constraint=False, **options)


class StatusCounts(models.Model):
    """Requests per endpoint × time bucket × status × conflict cause ('' when not a conflict).

    One table per grain (minute, hour, day); `minute` is the first minute of the bucket. All
    three are filled in the same transaction by additive upserts from aggregation
    (monitor/pipeline/rollups.py), so they always agree.
    """

    project = rollup_reference(Project)
    endpoint = rollup_reference(Endpoint)
    minute = models.DateTimeField()
    status = models.SmallIntegerField()
    cause = models.CharField(max_length=32, default="")
    n = models.BigIntegerField(default=0)
    duration_ms_sum = models.FloatField(default=0)
    # Writes (POST/PUT/PATCH/DELETE) and those that sent If-Match / If-Unmodified-Since.
    writes = models.BigIntegerField(default=0)
    conditional_writes = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class StatusRollup(StatusCounts):
    class Meta:
        db_table = "monitor_rollup_status_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "status", "cause"],
                name="rollup_status_minute_key",
            ),
        ]
        indexes = [
            # One endpoint over a range (its page's totals and charts), without reading every
            # other endpoint's minutes.
            models.Index(
                fields=["project", "endpoint", "minute"],
                name="rollup_status_minute_by_ep",
            ),
        ]


class StatusHourRollup(StatusCounts):
    class Meta:
        db_table = "monitor_rollup_status_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "status", "cause"],
                name="rollup_status_hour_key",
            ),
        ]


class StatusDayRollup(StatusCounts):
    class Meta:
        db_table = "monitor_rollup_status_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "status", "cause"],
                name="rollup_status_day_key",
            ),
        ]


class LatencyCounts(models.Model):
    """Latency histogram per endpoint × time bucket: count per logarithmic bucket
    (monitor/rules/latency.py). One table per grain, like StatusCounts."""

    project = rollup_reference(Project)
    endpoint = rollup_reference(Endpoint)
    minute = models.DateTimeField()
    bucket = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class LatencyRollup(LatencyCounts):
    class Meta:
        db_table = "monitor_rollup_latency_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "bucket"],
                name="rollup_latency_minute_key",
            ),
        ]
        indexes = [
            # One endpoint's histograms over a range (its page's p95, latency lines and heatmap),
            # answered from the index alone.
            models.Index(
                fields=["project", "endpoint", "minute"],
                include=["bucket", "n"],
                name="rollup_latency_minute_by_ep",
            ),
        ]


class LatencyHourRollup(LatencyCounts):
    class Meta:
        db_table = "monitor_rollup_latency_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "bucket"],
                name="rollup_latency_hour_key",
            ),
        ]
        indexes = [
            # One endpoint's hourly histograms (a week's latency lines), from the index alone.
            models.Index(
                fields=["project", "endpoint", "minute"],
                include=["bucket", "n"],
                name="rollup_latency_hour_by_ep",
            ),
        ]


class LatencyDayRollup(LatencyCounts):
    class Meta:
        db_table = "monitor_rollup_latency_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "bucket"],
                name="rollup_latency_day_key",
            ),
        ]


class ProjectLatencyCounts(models.Model):
    """The latency histogram of the whole project per time bucket (every endpoint together):
    what an unfiltered latency series reads, a tenth or less of the per-endpoint rows. Filled
    from the per-endpoint counts by the same upserts (monitor/pipeline/rollups.py)."""

    project = rollup_reference(Project, db_index=False)
    minute = models.DateTimeField()
    bucket = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ProjectLatencyRollup(ProjectLatencyCounts):
    class Meta:
        db_table = "monitor_rollup_project_latency_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "bucket"], name="rollup_project_latency_minute_key"
            ),
        ]


class ProjectLatencyHourRollup(ProjectLatencyCounts):
    class Meta:
        db_table = "monitor_rollup_project_latency_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "bucket"], name="rollup_project_latency_hour_key"
            ),
        ]


class ProjectLatencyDayRollup(ProjectLatencyCounts):
    class Meta:
        db_table = "monitor_rollup_project_latency_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "bucket"], name="rollup_project_latency_day_key"
            ),
        ]


class ProjectP95Minute(models.Model):
    """The project-wide p95 of each minute, kept beside the minute histogram it is read from
    (ProjectLatencyRollup): `bucket` is the latency bucket holding the rank (its value by
    monitor/rules/latency.py: bucket_value_ms), `requests` the histogram's total, 0 for a
    minute without requests. What `timeseries/?metric=p95_ms&interval=1m` reads: 1,440 rows
    for a day instead of some 140,000 histogram rows. Recomputed from the whole minute
    histogram for every minute a batch adds to (monitor/pipeline/p95_minutes.py)."""

    project = rollup_reference(Project, db_index=False)
    minute = models.DateTimeField()
    requests = models.BigIntegerField(default=0)
    bucket = models.SmallIntegerField(default=0)

    class Meta:
        db_table = "monitor_rollup_project_p95_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute"], name="rollup_project_p95_minute_key"
            ),
        ]


class ClientCounts(models.Model):
    """Requests per client × endpoint × time bucket, with what offenders and remedies need.

    `conflicts` are the conflicts this client received; `suffered` those of them that another
    client's write caused (a race won, a duplicate created); `caused` the other clients'
    conflicts that this client's write caused, counted at the loser's minute and endpoint.
    Client '' stands for requests without a client. One table per grain (minute, hour, day),
    filled together like StatusCounts.
    """

    project = rollup_reference(Project)
    endpoint = rollup_reference(Endpoint)
    minute = models.DateTimeField()
    client = models.TextField(default="")
    requests = models.BigIntegerField(default=0)
    conflicts = models.BigIntegerField(default=0)
    suffered = models.BigIntegerField(default=0)
    caused = models.BigIntegerField(default=0)
    # Writes, those with If-Match / If-Unmodified-Since, those whose If-Match is a weak ETag.
    writes = models.BigIntegerField(default=0)
    conditional_writes = models.BigIntegerField(default=0)
    weak_etag_writes = models.BigIntegerField(default=0)
    # POSTs, and those without an Idempotency-Key.
    creates = models.BigIntegerField(default=0)
    creates_without_key = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ClientRollup(ClientCounts):
    # No index of its own: the unique key and the by-client index lead with it (a row per
    # request on some logs, so each index is felt).
    project = rollup_reference(Project, db_index=False)

    class Meta:
        db_table = "monitor_rollup_client_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "client"],
                name="rollup_client_minute_key",
            ),
        ]
        indexes = [
            # One client over a range (its page, its chart, the explorer's count), without
            # reading every other client's minutes; covering what those read, so that
            # Postgres answers from the index alone.
            models.Index(
                fields=["project", "client", "minute"],
                include=["endpoint", "requests", "conflicts", "caused", "suffered"],
                name="rollup_client_by_client",
            ),
        ]


# The hour and day tables of the conflict analysis: the unique key (which leads with the
# project) is their index besides the primary key (and, for resources, one by resource); the
# foreign keys get none of their own.
class ClientHourRollup(ClientCounts):
    project = rollup_reference(Project, db_index=False)
    endpoint = rollup_reference(Endpoint, db_index=False)

    class Meta:
        db_table = "monitor_rollup_client_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "client"],
                name="rollup_client_hour_key",
            ),
        ]


class ClientDayRollup(ClientCounts):
    project = rollup_reference(Project, db_index=False)
    endpoint = rollup_reference(Endpoint, db_index=False)

    class Meta:
        db_table = "monitor_rollup_client_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "client"],
                name="rollup_client_day_key",
            ),
        ]


class OutcomeCounts(models.Model):
    """Conflicts per endpoint × client × cause × retry outcome × time bucket.

    Counts move between causes and outcomes as later batches decide them (additive upserts of
    -1 and +1 in the deciding transaction, at every grain). `resolved_ms_sum` adds up the time
    to resolve of the `resolved` ones.
    """

    project = rollup_reference(Project)
    endpoint = rollup_reference(Endpoint)
    minute = models.DateTimeField()
    client = models.TextField(default="")
    cause = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16, default="")
    n = models.BigIntegerField(default=0)
    resolved_ms_sum = models.FloatField(default=0)

    class Meta:
        abstract = True


class OutcomeRollup(OutcomeCounts):
    class Meta:
        db_table = "monitor_rollup_outcome_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "client", "cause", "outcome"],
                name="rollup_outcome_minute_key",
            ),
        ]
        indexes = [
            # The minutes that still hold pending outcomes, for the finalizer.
            models.Index(
                fields=["minute"],
                name="rollup_outcome_pending",
                condition=models.Q(outcome="pending"),
            ),
        ]


class OutcomeHourRollup(OutcomeCounts):
    project = rollup_reference(Project, db_index=False)
    endpoint = rollup_reference(Endpoint, db_index=False)

    class Meta:
        db_table = "monitor_rollup_outcome_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "client", "cause", "outcome"],
                name="rollup_outcome_hour_key",
            ),
        ]


class OutcomeDayRollup(OutcomeCounts):
    project = rollup_reference(Project, db_index=False)
    endpoint = rollup_reference(Endpoint, db_index=False)

    class Meta:
        db_table = "monitor_rollup_outcome_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "client", "cause", "outcome"],
                name="rollup_outcome_day_key",
            ),
        ]


class ResourceCounts(models.Model):
    """Conflicts per resource × cause × time bucket (the hotspots)."""

    project = rollup_reference(Project)
    endpoint = rollup_reference(Endpoint)
    minute = models.DateTimeField()
    resource = models.TextField()
    cause = models.CharField(max_length=32)
    n = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ResourceRollup(ResourceCounts):
    class Meta:
        db_table = "monitor_rollup_resource_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "resource", "cause"],
                name="rollup_resource_minute_key",
            ),
        ]
        indexes = [
            # One resource's conflicts over a range (its page's chart).
            models.Index(
                fields=["project", "resource", "minute"], name="rollup_resource_by_resource"
            ),
            # One endpoint's hotspots (its page), from the index alone.
            models.Index(
                fields=["project", "endpoint", "minute"],
                include=["resource", "cause", "n"],
                name="rollup_resource_minute_by_ep",
            ),
        ]


class ResourceHourRollup(ResourceCounts):
    project = rollup_reference(Project, db_index=False)
    endpoint = rollup_reference(Endpoint, db_index=False)

    class Meta:
        db_table = "monitor_rollup_resource_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "resource", "cause"],
                name="rollup_resource_hour_key",
            ),
        ]
        indexes = [
            # The breakdown of the top hotspots: a few resources over a long range.
            models.Index(
                fields=["project", "resource", "minute"], name="rollup_resource_hour_by_res"
            ),
            # One endpoint's hotspots (its page), from the index alone.
            models.Index(
                fields=["project", "endpoint", "minute"],
                include=["resource", "cause", "n"],
                name="rollup_resource_hour_by_ep",
            ),
        ]


class ResourceDayRollup(ResourceCounts):
    project = rollup_reference(Project, db_index=False)
    endpoint = rollup_reference(Endpoint, db_index=False)

    class Meta:
        db_table = "monitor_rollup_resource_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "endpoint", "resource", "cause"],
                name="rollup_resource_day_key",
            ),
        ]
        indexes = [
            # The breakdown of the top hotspots: a few resources over a long range.
            models.Index(
                fields=["project", "resource", "minute"], name="rollup_resource_day_by_res"
            ),
            # One endpoint's hotspots (its page), from the index alone.
            models.Index(
                fields=["project", "endpoint", "minute"],
                include=["resource", "cause", "n"],
                name="rollup_resource_day_by_ep",
            ),
        ]


class ResourceTotalDayRollup(models.Model):
    """Conflicts per resource × day, every endpoint and cause together: the resource day
    rollup summed over its endpoint and cause, a third of its rows or fewer. What the
    unfiltered hotspots rank a range's whole days from (monitor/reads/conflicts.py); filled
    with the resource day rollup by the same upserts (monitor/pipeline/rollups.py). A move of
    a conflict to another day can leave a row at 0, which the ranking skips."""

    project = rollup_reference(Project, db_index=False)
    minute = models.DateTimeField()
    resource = models.TextField()
    n = models.BigIntegerField(default=0)

    class Meta:
        db_table = "monitor_rollup_resource_total_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "minute", "resource"], name="rollup_resource_total_day_key"
            ),
        ]


class RacePairCounts(models.Model):
    """Race pairs per resource × time bucket: the client whose write won and the one that got
    the conflict. Keyed by resource first, so that the pairs of the top hotspots are index
    reads."""

    project = rollup_reference(Project)
    resource = models.TextField()
    minute = models.DateTimeField()
    winner = models.TextField(default="")
    loser = models.TextField(default="")
    n = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class RacePairRollup(RacePairCounts):
    class Meta:
        db_table = "monitor_rollup_race_minute"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "resource", "minute", "winner", "loser"],
                name="rollup_race_minute_key",
            ),
        ]
        indexes = [
            # One client's races over a range, as winner and as loser (its page's rivals).
            models.Index(
                fields=["project", "winner", "minute"],
                include=["loser", "n"],
                name="rollup_race_minute_by_winner",
            ),
            models.Index(
                fields=["project", "loser", "minute"],
                include=["winner", "n"],
                name="rollup_race_minute_by_loser",
            ),
        ]


class RacePairHourRollup(RacePairCounts):
    project = rollup_reference(Project, db_index=False)

    class Meta:
        db_table = "monitor_rollup_race_hour"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "resource", "minute", "winner", "loser"],
                name="rollup_race_hour_key",
            ),
        ]
        indexes = [
            # One client's races over a range, as winner and as loser (its page's rivals).
            models.Index(
                fields=["project", "winner", "minute"],
                include=["loser", "n"],
                name="rollup_race_hour_by_winner",
            ),
            models.Index(
                fields=["project", "loser", "minute"],
                include=["winner", "n"],
                name="rollup_race_hour_by_loser",
            ),
        ]


class RacePairDayRollup(RacePairCounts):
    project = rollup_reference(Project, db_index=False)

    class Meta:
        db_table = "monitor_rollup_race_day"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "resource", "minute", "winner", "loser"],
                name="rollup_race_day_key",
            ),
        ]
        indexes = [
            # One client's races over a range, as winner and as loser (its page's rivals).
            models.Index(
                fields=["project", "winner", "minute"],
                include=["loser", "n"],
                name="rollup_race_day_by_winner",
            ),
            models.Index(
                fields=["project", "loser", "minute"],
                include=["winner", "n"],
                name="rollup_race_day_by_loser",
            ),
        ]


class Deploy(models.Model):
    """A release of the project's API: charts mark it, the endpoint page compares the hour after
    it with the hour before, and an alert that fires soon after names it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deploys")
    version = models.CharField(max_length=200)
    ts = models.DateTimeField()
    environment = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(max_length=2000, blank=True, default="")
    url = models.URLField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-ts", "-id"]
        indexes = [models.Index(fields=["project", "ts"], name="deploy_project_ts")]

    def __str__(self) -> str:
        return f"{self.version} at {self.ts:%Y-%m-%d %H:%M}"
