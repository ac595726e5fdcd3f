"""The ingest path shared by HTTP, OTLP and importlog: items → native records → storage."""

from collections.abc import Iterable

from django.conf import settings

from ingest.decode import Item, split_items
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


def parse_items(
    items: Iterable[Item], fmt: str | None, rules: ProjectRules
) -> tuple[list[NativeRecord], list[dict], int]:
    """Normalize every record in the items; returns records, capped errors, rejected count."""
    records: list[NativeRecord] = []
    errors: list[dict] = []
    rejected = 0
    index = 0
    for item in items:
        for obj in expand(item.value):
            try:
                records.append(normalize(to_native(obj, fmt), rules))
            except RecordError as exc:
                rejected += 1
                if len(errors) < MAX_ERRORS:
                    # A text line no line format reads: its JSON error says more.
                    errors.append({"index": index, "error": item.error or str(exc)})
            index += 1
    return records, errors, rejected


def ingest_items(source: Source, items: Iterable[Item], fmt: str | None) -> dict:
    """Store the usable records of the items; the answer of the ingest contract."""
    project = source.project
    records, errors, rejected = parse_items(items, fmt, ProjectRules.for_project(project))
    result = store_records(project, source, records, rejected) if records else None
    return {
        "accepted": result.accepted if result else 0,
        "duplicates": result.duplicates if result else 0,
        "rejected": rejected,
        "errors": errors,
    }


def ingest_body(source: Source, body: bytes, fmt: str | None) -> dict:
    return ingest_items(source, split_items(body), fmt)
