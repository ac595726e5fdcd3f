"""The ingest path shared by HTTP, Firehose, OTLP and importlog: items → native records →
storage. Every door ends in `store_records`, so dedup keys and aggregation are the same."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings

from ingest.decode import Item
from ingest.formats import expand, to_native
from ingest.models import IngestBatch, Source
from ingest.normalize import ProjectRules, normalize
from ingest.record import NativeRecord, RecordError
from ingest.storage import store_records
from monitor.models import Project

MAX_ERRORS = 100


def backlog_full(project: Project) -> bool:
    """True when the project has more batches waiting for aggregation than allowed."""
    limit = settings.CONFLICTWATCH_MAX_PENDING_BATCHES
    pending = IngestBatch.objects.filter(project=project, status=IngestBatch.Status.PENDING)
    return pending[: limit + 1].count() > limit


def normalize_items(
    items: Iterable[Item], fmt: str | None, rules: ProjectRules
) -> Iterator[tuple[int, NativeRecord | str]]:
    """For every record in the items: (index of its item, the record or the reason it failed).

    An item may hold several records (a Firehose delivery, a shipper batch); a text line that
    no line format reads reports its JSON error, which says more than "no format".
    """
    for item_index, item in enumerate(items):
        for obj in expand(item.value):
            try:
                yield item_index, normalize(to_native(obj, fmt), rules)
            except RecordError as exc:
                yield item_index, item.error or str(exc)


def parse_items(
    items: Iterable[Item], fmt: str | None, rules: ProjectRules
) -> tuple[list[NativeRecord], list[dict], int]:
    """Normalize every record in the items; returns records, capped errors (indexed by record),
    rejected count."""
    records: list[NativeRecord] = []
    errors: list[dict] = []
    rejected = 0
    for index, (_, outcome) in enumerate(normalize_items(items, fmt, rules)):
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


def store(project: Project, source: Source | None, records: list[NativeRecord], outcome: Outcome):
    """Store the records (a batch row even when all were rejected, so the count is kept)."""
    if not records:
        return outcome
    result = store_records(project, source, records, outcome.rejected)
    outcome.accepted += result.accepted
    outcome.duplicates += result.duplicates
    return outcome


def ingest_items(source: Source, items: Iterable[Item], fmt: str | None) -> Outcome:
    """Store the usable records of the items."""
    project = source.project
    records, errors, rejected = parse_items(items, fmt, ProjectRules.for_project(project))
    return store(project, source, records, Outcome(rejected=rejected, errors=errors))


def ingest_mapped(
    source: Source, dicts: list[dict], refs: list[str], rejected: int, reasons: list[str]
) -> tuple[Outcome, list[str]]:
    """Store native-shaped dicts mapped elsewhere (OTLP): `refs` names each dict for its error
    message, `rejected` / `reasons` are what the mapping already refused. Returns the outcome
    and every reason (mapping's first, capped)."""
    project = source.project
    rules = ProjectRules.for_project(project)
    records: list[NativeRecord] = []
    reasons = list(reasons)
    for ref, rec in zip(refs, dicts, strict=True):
        try:
            records.append(normalize(rec, rules))
        except RecordError as exc:
            rejected += 1
            if len(reasons) < MAX_ERRORS:
                reasons.append(f"{ref}: {exc}")
    return store(project, source, records, Outcome(rejected=rejected)), reasons
