"""The ingest path shared by HTTP, Firehose, OTLP and importlog: items → native records →
storage. Every door ends in `store_records`, so dedup keys and aggregation are the same."""

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from ingest import problems, time_bounds
from ingest.decode import MAX_RECORDS, Item, too_many_records
from ingest.formats import detect, expand, line_format, reads_line, to_native
from ingest.lookalikes import BatchOccurrences
from ingest.models import IngestBatch, Source
from ingest.normalize import ProjectRules, normalize
from ingest.record import NativeRecord, RecordError
from ingest.storage import store_records
from ingest.time_bounds import TimeBounds
from monitor.models import Project
from monitor.telemetry.counters import count_records

MAX_ERRORS = 100


# Asked once per body: plain SQL, which costs a tenth of the ORM's building of the statement.
_PENDING = (
    f"SELECT count(*) FROM (SELECT 1 FROM {IngestBatch._meta.db_table} "
    "WHERE project_id = %s AND status = %s LIMIT %s) AS waiting"
)


def backlog_full(project: Project) -> bool:
    """True when the project has more batches waiting for aggregation than allowed."""
    limit = settings.CONFLICTWATCH_MAX_PENDING_BATCHES
    with connection.cursor() as cursor:
        cursor.execute(_PENDING, [project.id, IngestBatch.Status.PENDING.value, limit + 1])
        return cursor.fetchone()[0] > limit


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while a body is decoded, normalized and stored.

    A 1,000-record body allocates some ten thousand dicts and records, which would set the
    collector off dozens of times per body, each run walking everything still alive (every
    record of the body, and now and then the whole process). The records hold no cycles and
    are freed by reference counting once the body is stored; the collector resumes after.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def normalize_items(
    items: Iterable[Item], fmt: str | None, rules: ProjectRules, bounds: TimeBounds
) -> Iterator[tuple[int, NativeRecord | str]]:
    """For every record in the items: (index of its item, the record or the reason it failed).

    An item may hold several records (a Firehose delivery, a shipper batch). A text line that
    a line format takes up (the one named, or one that recognises it) reports that format's
    reason, then what normalize found wrong with it; any other line that is not JSON reports its
    JSON error, which says more than "no format". A record or line that another format than the
    one named recognises says which format reads it.
    """
    for item_index, item in enumerate(items):
        for obj in expand(item.value):
            try:
                native = to_native(obj, fmt)
            except RecordError as exc:
                as_line = isinstance(obj, str) and reads_line(obj, fmt)
                reason = item.error if item.error and not as_line else str(exc)
                if fmt and not as_line:
                    # Another format's log under the one named (`?format=nginx` on Caddy's).
                    other = _format_of(obj)
                    if other is not None and other != fmt:
                        reason = f"{exc}; it reads as format {other}"
                yield item_index, reason
                continue
            try:
                yield item_index, normalize(native, rules, bounds)
            except RecordError as exc:
                yield item_index, str(exc)


def _format_of(obj) -> str | None:
    """The name of the format that recognises a record or text line, if one does."""
    if isinstance(obj, str):
        module = line_format(obj)
        return module.NAME if module is not None else None
    if isinstance(obj, dict):
        try:
            module = detect(obj)
        except RecordError:
            return None
        # Not a record taken as native only for having some of native's fields.
        return module.NAME if module.detect(obj) else None
    return None


def parse_items(
    items: Iterable[Item], fmt: str | None, rules: ProjectRules, bounds: TimeBounds
) -> tuple[list[NativeRecord], list[dict], int]:
    """Normalize every record in the items; returns records, capped errors (indexed by record),
    rejected count."""
    records: list[NativeRecord] = []
    errors: list[dict] = []
    rejected = 0
    for index, (_, outcome) in enumerate(normalize_items(items, fmt, rules, bounds)):
        if index >= MAX_RECORDS:  # items that each hold many records (Firehose deliveries)
            raise too_many_records(MAX_RECORDS)
        if isinstance(outcome, str):
            rejected += 1
            if len(errors) < MAX_ERRORS:
                errors.append({"index": index, "error": outcome})
        else:
            records.append(outcome)
    return records, errors, rejected


@dataclass
class Outcome:
    """What became of a body: the counts of the ingest answer and the first reasons."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    # The batch stored, when its records were new (left pending when not `aggregate`d).
    batch_id: int | None = None

    @property
    def usable(self) -> bool:
        return bool(self.accepted or self.duplicates)

    def answer(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
        }


def store(
    project: Project,
    source: Source | None,
    records: list[NativeRecord],
    outcome: Outcome,
    first_error: str = "",
    occurrences: BatchOccurrences | None = None,
    aggregate: bool = True,
) -> Outcome:
    """Store the records, look-alikes numbered within the batch (or across a file, with the
    file's `occurrences`); a batch row even when all were rejected, so the count is kept. A
    body with rejected records is also one of the source's problems (ingest/problems.py).
    `aggregate=False` leaves the batch pending for the caller to aggregate."""
    if not records and not outcome.rejected:
        return outcome
    (occurrences or BatchOccurrences()).number(records)
    result = store_records(project, source, records, outcome.rejected, aggregate)
    if result.accepted:
        outcome.batch_id = result.batch_id
    outcome.accepted += result.accepted
    outcome.duplicates += result.duplicates
    if outcome.rejected:
        first = first_error or (outcome.errors[0]["error"] if outcome.errors else "")
        status = 200 if outcome.usable else 400
        problems.record(
            source, status, f"{outcome.rejected} rejected; first: {first}", outcome.rejected
        )
    count_records(outcome.accepted, outcome.duplicates, outcome.rejected)
    return outcome


def ingest_items(source: Source, items: Iterable[Item], fmt: str | None) -> Outcome:
    """Store the usable records of the items."""
    project = source.project
    records, errors, rejected = parse_items(
        items, fmt, ProjectRules.for_project(project), time_bounds.bounds()
    )
    return store(project, source, records, Outcome(rejected=rejected, errors=errors))


def ingest_mapped(
    source: Source, dicts: list[dict], refs: list[str], rejected: int, reasons: list[str]
) -> tuple[Outcome, list[str]]:
    """Store native-shaped dicts mapped elsewhere (OTLP): `refs` names each dict for its error
    message, `rejected` / `reasons` are what the mapping already refused. Returns the outcome
    and every reason (mapping's first, capped)."""
    if len(dicts) + rejected > MAX_RECORDS:
        raise too_many_records(MAX_RECORDS)
    project = source.project
    rules = ProjectRules.for_project(project)
    bounds = time_bounds.bounds()
    records: list[NativeRecord] = []
    reasons = list(reasons)
    for ref, rec in zip(refs, dicts, strict=True):
        try:
            records.append(normalize(rec, rules, bounds))
        except RecordError as exc:
            rejected += 1
            if len(reasons) < MAX_ERRORS:
                reasons.append(f"{ref}: {exc}")
    outcome = Outcome(rejected=rejected)
    return store(project, source, records, outcome, reasons[0] if reasons else ""), reasons
