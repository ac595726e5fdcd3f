"""Ingest sources, batches and the raw request rows."""

import hashlib
import secrets

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual

from ingest.normalize import MAX_REQUEST_ID
from monitor.models import Endpoint, Project

TOKEN_PREFIX = "cw_"

# Rows whose request id may have been cut (ingest/normalize.py): their dedup key is made from
# the whole id, so the request id filter finds them through an index of their own.
LONG_REQUEST_ID = models.Q(GreaterThanOrEqual(Length("request_id"), MAX_REQUEST_ID))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Source(models.Model):
    """Something that ships logs: a gateway, a log shipper, an OpenTelemetry exporter.

    Only the SHA-256 of its token is stored; the token is shown once, when it is made.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=100)
    format = models.CharField(max_length=32, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    token_hint = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="source_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"

    def issue_token(self) -> str:
        """Set a fresh token on this (unsaved or saved) source and return it in clear."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_hint = token[:8]
        return token


class IngestBatch(models.Model):
    """One accepted ingest request; the unit of exactly-once aggregation."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    source = models.ForeignKey(Source, on_delete=models.SET_NULL, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    accepted = models.IntegerField(default=0)
    duplicates = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    attempts = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Successful reads that sampling kept out of the raw table (ingest/sampling.py), new to
    # this batch: what the rollups need of each, [endpoint_id, ts, method, status,
    # duration_ms, client], counted by aggregation exactly once and then cleared.
    sampled = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["received_at"],
                name="batch_pending_idx",
                condition=models.Q(status="pending"),
            ),
            # A source's recent batches (the sources page's last hour).
            models.Index(fields=["source", "received_at"], name="batch_source_recent"),
        ]


class SourceProblem(models.Model):
    """A recent trouble of a source, for its admins: a refused delivery (the status answered
    and why) or a body with rejected records (how many, the first reason). Reasons quote
    what the shipper sent: cut and cleaned by ingest/problems.py, escaped where shown; only
    the newest few per source are kept."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="problems")
    at = models.DateTimeField(auto_now_add=True)
    status = models.SmallIntegerField()
    rejected = models.IntegerField(default=0)
    message = models.CharField(max_length=300)

    class Meta:
        indexes = [models.Index(fields=["source", "-at"], name="source_problem_recent")]


class SampledKey(models.Model):
    """The dedup key of a successful read that sampling kept out of `Request`: so that a
    resent record is still recognised and counted once. Kept as long as raw rows."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False)
    dedup_key = models.CharField(max_length=32)
    ts = models.DateTimeField()

    class Meta:
        db_table = "ingest_sampled_key"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "dedup_key", "ts"], name="sampled_key_dedup"
            ),
        ]
        indexes = [models.Index(fields=["ts"], name="sampled_key_ts")]


class Request(models.Model):
    """One request as a gateway logged it, normalized to the native record."""

    # No database constraints on the raw table's references: each one costs an index probe per
    # stored row at commit (nearly doubling the cost of a batch's insert). The ingest path
    # stores only ids it has just read or made (ingest/storage.py), and deletions go through
    # the ORM, which still cascades (or sets null) as declared.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_constraint=False)
    batch = models.ForeignKey(
        IngestBatch, on_delete=models.SET_NULL, null=True, db_index=False, db_constraint=False
    )
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    dedup_key = models.CharField(max_length=32)
    ts = models.DateTimeField()
    method = models.CharField(max_length=16)
    path = models.TextField()
    query = models.TextField(null=True, blank=True)
    route = models.TextField()
    status = models.SmallIntegerField()
    host = models.TextField(null=True, blank=True)
    service = models.TextField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    request_bytes = models.BigIntegerField(null=True, blank=True)
    response_bytes = models.BigIntegerField(null=True, blank=True)
    upstream_status = models.SmallIntegerField(null=True, blank=True)
    client = models.TextField(null=True, blank=True)
    client_ip = models.TextField(null=True, blank=True)
    user_agent = models.TextField(null=True, blank=True)
    request_id = models.TextField(null=True, blank=True)
    request_headers = models.JSONField(default=dict)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(null=True, blank=True)
    # The concrete resource the request addressed (monitor/rules/causes.py).
    resource = models.TextField()
    # Filled by aggregation for conflicts (409/412/423/428).
    cause = models.CharField(max_length=32, null=True, blank=True)
    cause_reason = models.TextField(null=True, blank=True)
    retry_outcome = models.CharField(max_length=16, null=True, blank=True)
    resolved_after_ms = models.FloatField(null=True, blank=True)
    # Milliseconds to the next write that decided the outcome (resolved, retried, blind): a
    # later write can change the outcome only if it came before (monitor/pipeline/lookups.py).
    next_attempt_ms = models.FloatField(null=True, blank=True)
    # No database constraint: on Postgres the table is partitioned by day (primary key (id, ts),
    # so id alone cannot be referenced), and a winner may be pruned a day before its loser.
    race_winner = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        db_index=False,
        related_name="race_losers",
    )

    class Meta:
        constraints = [
            # ts is part of the key so that the table can be partitioned by time.
            models.UniqueConstraint(fields=["project", "dedup_key", "ts"], name="request_dedup"),
        ]
        indexes = [
            models.Index(fields=["project", "ts"], name="request_project_ts"),
            models.Index(fields=["endpoint", "ts"], name="request_endpoint_ts"),
            models.Index(fields=["project", "client", "ts"], name="request_client_ts"),
            models.Index(fields=["project", "resource", "ts"], name="request_resource_ts"),
            models.Index(fields=["batch"], name="request_batch"),
            # The request id filter reads a row by its dedup key, made from its request id
            # (monitor/reads/requests.py: with_request_id); only an id that may have been cut
            # needs this index, so the rows of usual ids skip it: an index by request id was a
            # quarter of the database's work per row stored.
            models.Index(
                fields=["project", "request_id"],
                name="request_long_request_id",
                condition=LONG_REQUEST_ID,
            ),
            # Conflicts only (a few percent of rows): the conflict list, and the stored
            # conflicts that a batch's writes may decide (race winners, retry outcomes).
            models.Index(
                fields=["project", "resource", "ts"],
                name="request_conflict_resource",
                condition=models.Q(status__in=[409, 412, 423, 428]),
            ),
            models.Index(
                fields=["project", "ts"],
                name="request_conflict_ts",
                condition=models.Q(status__in=[409, 412, 423, 428]),
            ),
            # An endpoint's recent conflicts (its page): without it an endpoint that never
            # conflicts is read row by row back to the start of the range.
            models.Index(
                fields=["endpoint", "ts"],
                name="request_conflict_endpoint",
                condition=models.Q(status__in=[409, 412, 423, 428]),
            ),
        ]
        # No index names a column that aggregation writes back (cause, cause_reason,
        # race_winner, retry_outcome, resolved_after_ms, next_attempt_ms): the write-back then
        # stays a HOT update (no new index entries), given the free space partitions keep
        # (ingest/partitions.py).
        # A winner's losers are found through the conflict resource index (they are on its
        # resource within the race window after it), pending outcomes through the outcome
        # rollup (monitor/pipeline/analysis.py: finalize_pending).
