"""A source's recent problems and its last hour, for the sources page: whether a shipper works.

Problems are recorded where a door refuses a delivery it could attribute to a source (after
the token check) and where a body had rejected records. Reasons quote what the shipper sent,
so they are cleaned (controls and NUL become spaces) and cut before they are stored; only the
newest KEEP per source stay.
"""

import logging
import re
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.db.models import Sum
from django.utils import timezone

from ingest.models import IngestBatch, Source, SourceProblem

KEEP = 20
SHOWN = 5
MAX_MESSAGE = 300
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
log = logging.getLogger(__name__)


def clean(message: str) -> str:
    message = _CONTROLS.sub(" ", str(message)).strip()
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def record(source: Source | None, status: int, message: str, rejected: int = 0) -> None:
    """Keep a problem of this source; never fails the delivery it describes."""
    if source is None or status >= 500:  # a 503 means the database could not take it either
        return
    try:
        with transaction.atomic():
            SourceProblem.objects.create(
                source=source, status=status, rejected=rejected, message=clean(message)
            )
            stale = list(
                SourceProblem.objects.filter(source=source)
                .order_by("-at", "-id")
                .values_list("id", flat=True)[KEEP:]
            )
            if stale:
                SourceProblem.objects.filter(id__in=stale).delete()
    except DatabaseError:
        log.warning("could not record a problem of source %s", source.pk, exc_info=True)


def last_hour(sources: list[Source]) -> dict[int, dict]:
    """Per source id: records accepted, duplicates and rejected over the last hour, and its
    newest problems (at most SHOWN)."""
    since = timezone.now() - timedelta(hours=1)
    ids = [s.pk for s in sources]
    out = {i: {"accepted": 0, "duplicates": 0, "rejected": 0, "problems": []} for i in ids}
    rows = (
        IngestBatch.objects.filter(source_id__in=ids, received_at__gte=since)
        .values("source_id")
        .annotate(a=Sum("accepted"), d=Sum("duplicates"), r=Sum("rejected"))
    )
    for row in rows:
        out[row["source_id"]].update(accepted=row["a"], duplicates=row["d"], rejected=row["r"])
    for problem in SourceProblem.objects.filter(source_id__in=ids).order_by("-at", "-id"):
        shown = out[problem.source_id]["problems"]
        if len(shown) < SHOWN:
            shown.append(problem)
    return out
