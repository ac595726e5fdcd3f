"""The rows of a batch as aggregation reads them: what the rollups and the analysis need of
each stored request (headers read as flags in SQL), and the successful reads that sampling
kept out of the raw table."""

import re
from datetime import datetime

from django.db.models import BooleanField, ExpressionWrapper, Q

from ingest.models import Request
from monitor.rules.versions import DEFAULT_SIGNALS, VersionSignals


def batch_rows(batch_id: int, signals: VersionSignals = DEFAULT_SIGNALS) -> list[dict]:
    """What the rollups need of each request of a batch (headers are read as flags in SQL).
    `conditional`: the request carried a version signal (a precondition header or one of the
    project's version headers or query parameters, monitor/rules/versions.py)."""
    conditional = Q(request_headers__has_any_keys=list(signals.headers))
    if signals.params:
        names = "|".join(re.escape(p) for p in signals.params)
        conditional |= Q(query__regex=rf"(^|[&;])({names})=[^&;]")
    return list(
        Request.objects.filter(batch_id=batch_id)
        .annotate(
            conditional=ExpressionWrapper(conditional, output_field=BooleanField()),
            weak=ExpressionWrapper(
                Q(**{"request_headers__if-match__startswith": "W/"}),
                output_field=BooleanField(),
            ),
            keyed=ExpressionWrapper(
                Q(request_headers__has_key="idempotency-key"), output_field=BooleanField()
            ),
        )
        .values(
            "id",
            "endpoint_id",
            "ts",
            "method",
            "status",
            "duration_ms",
            "client",
            "resource",
            "conditional",
            "weak",
            "keyed",
        )
    )


def sampled_rows(sampled: list) -> list[dict]:
    """The batch's sampled-out successful reads (ingest/sampling.py) as rows for the rollups:
    no id (never a conflict), no write flags (reads only)."""
    return [
        {
            "id": None,
            "endpoint_id": endpoint_id,
            "ts": datetime.fromisoformat(ts),
            "method": method,
            "status": status,
            "duration_ms": duration_ms,
            "client": client,
            "conditional": False,
            "weak": False,
            "keyed": False,
        }
        for endpoint_id, ts, method, status, duration_ms, client in sampled
    ]
