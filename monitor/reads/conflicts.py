"""Read models of conflict intelligence: conflicts, offenders, hotspots, coverage, outcomes and
one conflict's story. For the API, the pages and the dashboard.

Totals come from the rollups that aggregation fills (monitor/pipeline/analysis.py), never from
a scan of raw rows over the range; raw rows serve lists and one conflict's detail through their
indexes. Every function takes a project the caller was already allowed to see
(monitor/access.py) and a TimeRange; `Filters` narrows by endpoint, method and route (and by
cause where conflicts are counted by cause).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q, QuerySet

from ingest.models import Request
from monitor.models import (
    MAX_RACE_WINDOW_SECONDS,
    ClientDayRollup,
    ClientHourRollup,
    ClientRollup,
    Endpoint,
    OutcomeDayRollup,
    OutcomeHourRollup,
    OutcomeRollup,
    Project,
    RacePairDayRollup,
    RacePairHourRollup,
    RacePairRollup,
    ResourceDayRollup,
    ResourceHourRollup,
    ResourceRollup,
    ResourceTotalDayRollup,
)
from monitor.reads.grains import by_grain, summed
from monitor.reads.timerange import TimeRange
from monitor.reads.totals import Filters, status_parts
from monitor.rules.causes import CONFLICT_STATUSES, SLOWEST_WRITE, WRITE_METHODS
from monitor.rules.outcomes import OUTCOMES, RETRY_HORIZON
from monitor.rules.timebuckets import DAY, HOUR, MINUTE

OFFENDER_ORDERS = ("conflicts", "conflict_rate", "caused")
HOTSPOT_LIMIT = 20
PAIRS_PER_HOTSPOT = 5
CHAIN_LIMIT = 20

# The conflict analysis's rollups by grain (monitor/pipeline/rollups.py fills all three).
CLIENT = {MINUTE: ClientRollup, HOUR: ClientHourRollup, DAY: ClientDayRollup}
OUTCOME = {MINUTE: OutcomeRollup, HOUR: OutcomeHourRollup, DAY: OutcomeDayRollup}
RESOURCE = {MINUTE: ResourceRollup, HOUR: ResourceHourRollup, DAY: ResourceDayRollup}
RACE = {MINUTE: RacePairRollup, HOUR: RacePairHourRollup, DAY: RacePairDayRollup}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def rollup_parts(
    models: dict,
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
    coarsest: timedelta = DAY,
    **where,
) -> list[QuerySet]:
    """One queryset per grain of the range's pieces (monitor/reads/grains.py: pieces,
    by_grain): minutes at the ragged edges, hours and days in between (up to `coarsest`), so a
    month reads day rows and the counts outlive the minute rollups' retention. Endpoint
    filters apply to the tables keyed by endpoint."""
    parts = []
    for grain, within in by_grain(rng, coarsest):
        qs = models[grain].objects.filter(within, project=project, **where)
        if models is not RACE:
            qs = f.to_endpoints(qs)
        parts.append(qs)
    return parts


# -- lists -------------------------------------------------------------------------------------
def conflicts(rows: QuerySet, *, outcome: str | None = None, resource: str | None = None):
    """The conflict requests (409/412/423/428) among `rows` (a filtered Request queryset),
    with their race winner joined; `outcome` and `resource` narrow further."""
    qs = rows.filter(status__in=CONFLICT_STATUSES).select_related("race_winner")
    if outcome:
        qs = qs.filter(retry_outcome=outcome)
    if resource:
        qs = qs.filter(resource=resource)
    return qs


def offenders(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
    order: str = "conflicts",
    client: str | None = None,
) -> list[dict]:
    """Clients ranked by `order` (conflicts received, conflict rate, or conflicts caused):
    [{"client", "requests", "conflicts", "conflict_rate", "caused", "suffered"}].

    `caused` counts other clients' conflicts that this client's write caused (it won the race,
    or created first what they tried to create); `suffered` counts this client's conflicts that
    another client caused. With a cause filter, `conflicts` counts that cause only.
    """
    one = {} if client is None else {"client": client}
    stats = {
        name: {"requests": requests, "conflicts": conflicts, "caused": caused, "suffered": suffered}
        for name, requests, conflicts, caused, suffered in summed(
            rollup_parts(CLIENT, project, rng, f, **one),
            ["client"],
            ["requests", "conflicts", "caused", "suffered"],
        )
    }
    if f.cause:
        counted = dict(
            summed(rollup_parts(OUTCOME, project, rng, f, cause=f.cause, **one), ["client"], ["n"])
        )
        for name, row in stats.items():
            row["conflicts"] = counted.get(name, 0)
    result = [
        {
            "client": name,
            "requests": row["requests"],
            "conflicts": row["conflicts"],
            "conflict_rate": _rate(row["conflicts"], row["requests"]),
            "caused": row["caused"],
            "suffered": row["suffered"],
        }
        for name, row in stats.items()
        if name and (row["requests"] or row["caused"])
    ]
    result.sort(key=lambda o: (-o[order], -o["conflicts"], o["client"]))
    return result


def hotspots(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008
    limit: int = HOTSPOT_LIMIT,
) -> list[dict]:
    """Resources ranked by conflicts: [{"resource", "route", "conflicts", "by_cause",
    "race_pairs": [{"winner", "loser", "races"}]}], at most `limit`."""
    where = {"cause": f.cause} if f.cause else {}
    # Ranked in SQL over all the range's pieces: only the top resources' rows come back,
    # whatever the range holds.
    ranked = [
        resource
        for resource, _ in summed(
            _ranking_parts(project, rng, f, where),
            ["resource"],
            ["n"],
            order=["-n", "resource"],
            limit=limit,
            per_piece=False,
        )
    ]
    per_resource: dict[str, dict] = {}
    for resource, endpoint_id, cause, n in summed(
        rollup_parts(RESOURCE, project, rng, f, resource__in=ranked, **where) if ranked else [],
        ["resource", "endpoint_id", "cause"],
        ["n"],
    ):
        if not n:
            continue
        spot = per_resource.setdefault(
            resource, {"resource": resource, "conflicts": 0, "by_cause": defaultdict(int), "ep": {}}
        )
        spot["conflicts"] += n
        spot["by_cause"][cause] += n
        spot["ep"][endpoint_id] = spot["ep"].get(endpoint_id, 0) + n
    top = [per_resource[resource] for resource in ranked if resource in per_resource]
    pairs = _race_pairs(project, rng, [s["resource"] for s in top])
    routes = dict(
        Endpoint.objects.filter(id__in={max(s["ep"], key=s["ep"].get) for s in top}).values_list(
            "id", "route"
        )
    )
    return [
        {
            "resource": s["resource"],
            "route": routes.get(max(s["ep"], key=s["ep"].get)),
            "conflicts": s["conflicts"],
            "by_cause": dict(sorted(s["by_cause"].items(), key=lambda kv: -kv[1])),
            "race_pairs": pairs.get(s["resource"], []),
        }
        for s in top
    ]


def _ranking_parts(project: Project, rng: TimeRange, f: Filters, where: dict) -> list[QuerySet]:
    """The rollup rows that rank the range's resources, one queryset per piece. Unfiltered,
    whole days are read from the resource totals (one row per resource and day, every endpoint
    and cause summed: a third of the rows or fewer); the sums are the same, so the ranking is.
    Filtered by endpoint or cause, every piece is read from the resource rollups, which keep
    both."""
    if f.endpoint is not None or f.method or f.route or f.cause:
        return rollup_parts(RESOURCE, project, rng, f, **where)
    return [
        (ResourceTotalDayRollup if grain == DAY else RESOURCE[grain]).objects.filter(
            within, project=project
        )
        for grain, within in by_grain(rng)
    ]


def _race_pairs(project: Project, rng: TimeRange, resources: list[str]) -> dict[str, list]:
    if not resources:
        return {}
    found: dict[str, list] = defaultdict(list)
    for resource, winner, loser, n in summed(
        rollup_parts(RACE, project, rng, resource__in=resources),
        ["resource", "winner", "loser"],
        ["n"],
        order=["resource", "-n", "winner", "loser"],
    ):
        if n and len(found[resource]) < PAIRS_PER_HOTSPOT:
            found[resource].append({"winner": winner, "loser": loser, "races": n})
    return found


# -- evidence ----------------------------------------------------------------------------------
@dataclass
class Coverage:
    writes: int = 0
    conditional_writes: int = 0
    weak_etag_writes: int = 0
    creates: int = 0
    creates_without_key: int = 0

    def as_dict(self) -> dict:
        return {
            "writes": self.writes,
            "precondition_coverage": (
                _rate(self.conditional_writes, self.writes) if self.writes else None
            ),
            "weak_etag_writes": self.weak_etag_writes,
            "creates": self.creates,
            "creates_without_key": self.creates_without_key,
        }


def coverage(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008
    *,
    by: str = "endpoint",
) -> dict:
    """Precondition habits per endpoint id (`by="endpoint"`) or client (`by="client"`): writes,
    precondition coverage (share of writes with a version signal: If-Match,
    If-Unmodified-Since, a version header or parameter of the project), writes whose
    If-Match is a weak ETag, creates and creates without Idempotency-Key."""
    key = "endpoint_id" if by == "endpoint" else "client"
    result = {}
    for name, *values in summed(
        rollup_parts(CLIENT, project, rng, f),
        [key],
        ["writes", "conditional_writes", "weak_etag_writes", "creates", "creates_without_key"],
    ):
        if values[0]:
            result[name] = Coverage(*values)
    return result


def outcomes_by_cause(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008
) -> dict[str, dict]:
    """{cause: {"conflicts", "outcomes": {outcome: n}, "mean_resolve_ms"}}."""
    where = {"cause": f.cause} if f.cause else {}
    result: dict[str, dict] = {}
    for cause, outcome, n, ms in summed(
        rollup_parts(OUTCOME, project, rng, f, **where),
        ["cause", "outcome"],
        ["n", "resolved_ms_sum"],
    ):
        if not n:
            continue
        entry = result.setdefault(
            cause, {"conflicts": 0, "outcomes": dict.fromkeys(OUTCOMES, 0), "_ms": 0.0}
        )
        entry["conflicts"] += n
        key = outcome or "untracked"
        entry["outcomes"][key] = entry["outcomes"].get(key, 0) + n
        entry["_ms"] += ms or 0.0
    for entry in result.values():
        resolved = entry["outcomes"]["resolved"]
        entry["mean_resolve_ms"] = round(entry.pop("_ms") / resolved, 1) if resolved else None
    return result


def clients_by_cause(
    project: Project,
    rng: TimeRange,
    cause: str,
    f: Filters = Filters(),  # noqa: B008
    limit: int = 5,
) -> list[dict]:
    """The clients with most conflicts of `cause`: [{"client", "conflicts", "outcomes"}]."""
    per: dict[str, dict] = {}
    for client, outcome, n in summed(
        rollup_parts(OUTCOME, project, rng, f, cause=cause), ["client", "outcome"], ["n"]
    ):
        if n:
            entry = per.setdefault(client, {"client": client, "conflicts": 0, "outcomes": {}})
            entry["conflicts"] += n
            entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + n
    return sorted(per.values(), key=lambda e: (-e["conflicts"], e["client"]))[:limit]


def conflicts_by_endpoint(
    project: Project,
    rng: TimeRange,
    cause: str,
    f: Filters = Filters(),  # noqa: B008
) -> dict[int, int]:
    """{endpoint id: conflicts of `cause`} from the status rollup."""
    parts = status_parts(project, rng, Filters(endpoint=f.endpoint, cause=cause))
    return {ep: n for ep, n in summed(parts, ["endpoint_id"], ["n"]) if n}


# -- one conflict ------------------------------------------------------------------------------
def conflict_story(row: Request) -> dict:
    """What happened around one request (conflict or not), through the indexes:

    - `race_winner`: the write that won the race against it (or None);
    - `race_losers`: the conflicts whose race this request won;
    - `retry_of`: the conflict this request was the next attempt after (same client and
      resource, within the retry horizon), or None;
    - `next_requests`: the same client's requests to the same resource in the retry horizon
      after it, in time order, up to and including the write that decided the outcome.
    """
    # A loser is a 409 on the winner's resource answered after the winner ended: it may have
    # started a little before the winner (a slow write), at most the race window after it.
    losers = list(
        Request.objects.filter(
            project_id=row.project_id,
            resource=row.resource,
            status__in=CONFLICT_STATUSES,
            ts__gte=row.ts - SLOWEST_WRITE,
            ts__lte=row.ts + timedelta(seconds=MAX_RACE_WINDOW_SECONDS),
            race_winner_id=row.id,
        ).order_by("ts", "id")[:CHAIN_LIMIT]
    )
    same = Request.objects.filter(project_id=row.project_id, resource=row.resource)
    if row.client is not None:
        same = same.filter(client=row.client)
    else:
        same = same.filter(client__isnull=True)
    after = same.filter(
        Q(ts__gt=row.ts) | Q(ts=row.ts, id__gt=row.id), ts__lte=row.ts + RETRY_HORIZON
    ).order_by("ts", "id")
    chain = []
    for nxt in after[:CHAIN_LIMIT]:
        chain.append(nxt)
        if nxt.method in WRITE_METHODS:
            break
    before = (
        same.filter(
            Q(ts__lt=row.ts) | Q(ts=row.ts, id__lt=row.id),
            ts__gte=row.ts - RETRY_HORIZON,
            method__in=WRITE_METHODS,
        )
        .order_by("-ts", "-id")
        .first()
    )
    retry_of = before if before is not None and before.status in CONFLICT_STATUSES else None
    if row.method not in WRITE_METHODS:
        retry_of = None
    return {
        "race_winner": row.race_winner if row.race_winner_id else None,
        "race_losers": losers,
        "retry_of": retry_of,
        "next_requests": chain if row.status in CONFLICT_STATUSES else [],
    }


RIVALS_SHOWN = 10


def retry_behaviour(project, rng: TimeRange, client: str) -> dict[str, dict[str, int]]:
    """{cause: {outcome: conflicts}} of one client's conflicts, from the outcome rollup."""
    result: dict[str, dict[str, int]] = {}
    for cause, outcome, n in summed(
        rollup_parts(OUTCOME, project, rng, client=client), ["cause", "outcome"], ["n"]
    ):
        if n:
            per = result.setdefault(cause, {})
            per[outcome or "untracked"] = per.get(outcome or "untracked", 0) + n
    return result


def rivals(project, rng: TimeRange, client: str, side: str) -> list[tuple[str, int]]:
    """The clients this one beat (side="winner") or lost to (side="loser") in races, most first."""
    other = "loser" if side == "winner" else "winner"
    return summed(
        rollup_parts(RACE, project, rng, **{side: client}),
        [other],
        ["n"],
        order=["-n", other],
        limit=RIVALS_SHOWN,
    )
