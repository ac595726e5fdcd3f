"""What to do about each cause of conflict, with the evidence from this project's traffic.

`remedies(project, rng)` answers one entry per cause seen in the range, most conflicts first:
{"cause", "conflicts", "remedy", "evidence": [sentences], "data": {...}}. The sentences are
plain text (templates escape them; clients and routes in them are logged data); `data` holds
the numbers they were made from, for the API and charts. Everything is read from rollups
(monitor/reads/conflicts.py).

A page that already read the range's hotspots (with the same filters) passes them as `spots`:
the concurrent-write evidence then names the race pairs of those hotspots instead of ranking
the resources again.
"""

from monitor.models import Endpoint, Project
from monitor.reads import conflicts as cq
from monitor.reads.timerange import TimeRange
from monitor.reads.totals import Filters

REMEDIES = {
    "duplicate": "Check whether the thing exists before creating it, or send an Idempotency-Key "
    "so that a resent create answers with the first result instead of a 409.",
    "idempotency": "A request with the same Idempotency-Key was still in flight: wait for it "
    "(honour Retry-After) before sending the key again, and never reuse a key for a new create.",
    "stale_version": "Refetch the resource, then retry with the fresh ETag in If-Match; resending "
    "the same If-Match can only fail again.",
    "concurrent_write": "Adopt If-Match on these writes: a lost update then becomes a 412 that "
    "the client can resolve by refetching, instead of a 409 or a silent overwrite.",
    "lock": "Honour Retry-After: wait as long as the server asks before retrying a locked "
    "resource; retrying sooner only adds load and more 409s.",
    "missing_precondition": "The server requires a conditional write here: send If-Match with "
    "the ETag of the last read.",
    "unknown": "Nothing in these responses names a cause: add the phrases their bodies use to "
    "the project's conflict phrases (or send a Retry-After / 412 from the API).",
}


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def _endpoint_names(ids) -> dict[int, str]:
    return {
        ep_id: f"{method} {route}"
        for ep_id, method, route in Endpoint.objects.filter(id__in=set(ids)).values_list(
            "id", "method", "route"
        )
    }


def remedies(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
    spots: list[dict] | None = None,
) -> list[dict]:
    """One remedy per cause with conflicts in the range, most conflicts first. `spots`: the
    hotspots of the same range and filters (conflicts.hotspots), when the caller has them."""
    by_cause = cq.outcomes_by_cause(project, rng, f)
    result = []
    for cause, stats in sorted(by_cause.items(), key=lambda kv: -kv[1]["conflicts"]):
        if cause not in REMEDIES:
            continue
        if cause == "concurrent_write":
            evidence, data = _concurrent(project, rng, f, cause, stats, spots)
        else:
            evidence, data = EVIDENCE.get(cause, _outcomes_only)(project, rng, f, cause, stats)
        result.append(
            {
                "cause": cause,
                "conflicts": stats["conflicts"],
                "remedy": REMEDIES[cause],
                "evidence": evidence,
                "data": {"outcomes": stats["outcomes"], **data},
            }
        )
    return result


def _outcome_sentence(stats: dict) -> str:
    o, n = stats["outcomes"], stats["conflicts"]
    return (
        f"Of {n} conflicts, {o['resolved']} were resolved by the client's next write, "
        f"{o['retried']} retried and failed again, {o['blind']} were resent unchanged, "
        f"{o['abandoned']} were abandoned ({o['pending']} still open)."
    )


def _outcomes_only(project, rng, f, cause, stats):
    return [_outcome_sentence(stats)], {}


def _top_clients(project, rng, f, cause) -> list[dict]:
    return cq.clients_by_cause(project, rng, cause, f)


def _duplicate(project, rng, f, cause, stats):
    endpoints = cq.conflicts_by_endpoint(project, rng, cause, f)
    cover = cq.coverage(project, rng, f)
    names = _endpoint_names(endpoints)
    rows = []
    evidence = []
    for ep_id, n in sorted(endpoints.items(), key=lambda kv: -kv[1]):
        c = cover.get(ep_id, cq.Coverage())
        rows.append({"endpoint": ep_id, "name": names.get(ep_id), "conflicts": n, **c.as_dict()})
        if c.creates:
            evidence.append(
                f"{names.get(ep_id)}: {n} duplicates; {c.creates_without_key} of {c.creates} "
                f"creates ({_pct(c.creates_without_key, c.creates)}) sent no Idempotency-Key."
            )
    clients = _top_clients(project, rng, f, cause)
    if clients:
        evidence.append(
            "Most duplicates: " + ", ".join(f"{c['client']} ({c['conflicts']})" for c in clients)
        )
    return evidence + [_outcome_sentence(stats)], {"endpoints": rows, "clients": clients}


def _stale(project, rng, f, cause, stats):
    clients = _top_clients(project, rng, f, cause)
    blind = [c for c in clients if c["outcomes"].get("blind")]
    evidence = [_outcome_sentence(stats)]
    if stats["mean_resolve_ms"] is not None:
        evidence.append(
            f"Clients that refetched and retried took {stats['mean_resolve_ms']:.0f} ms on average."
        )
    if blind:
        evidence.append(
            "Resending the same version (If-Match, ?rev=…): "
            + ", ".join(f"{c['client']} ({c['outcomes']['blind']})" for c in blind)
        )
    return evidence, {"clients": clients, "mean_resolve_ms": stats["mean_resolve_ms"]}


RACED_SPOTS = 3


def _raced_spots(project, rng, f, cause, spots) -> list[dict]:
    """The resources with most conflicts of `cause`, up to RACED_SPOTS: picked from `spots`
    when given, else ranked from the rollups."""
    if spots is None:
        return cq.hotspots(
            project, rng, Filters(cause=cause, endpoint=f.endpoint), limit=RACED_SPOTS
        )
    ranked = sorted(
        (s for s in spots if s["by_cause"].get(cause)),
        key=lambda s: (-s["by_cause"][cause], s["resource"]),
    )
    return ranked[:RACED_SPOTS]


def _concurrent(project, rng, f, cause, stats, spots=None):
    endpoints = cq.conflicts_by_endpoint(project, rng, cause, f)
    cover = cq.coverage(project, rng, f)
    names = _endpoint_names(endpoints)
    rows, evidence = [], []
    for ep_id, n in sorted(endpoints.items(), key=lambda kv: -kv[1]):
        c = cover.get(ep_id, cq.Coverage())
        rows.append({"endpoint": ep_id, "name": names.get(ep_id), "conflicts": n, **c.as_dict()})
        evidence.append(
            f"{names.get(ep_id)}: {n} lost races; {_pct(c.conditional_writes, c.writes)} of its "
            f"{c.writes} writes sent the version they expect (If-Match, If-Unmodified-Since or a "
            "version header or parameter)"
            + (f" ({c.weak_etag_writes} with a weak ETag)." if c.weak_etag_writes else ".")
        )
    for spot in _raced_spots(project, rng, f, cause, spots):
        if spot["race_pairs"]:
            pair = spot["race_pairs"][0]
            evidence.append(
                f"{spot['resource']}: {pair['winner']} beat {pair['loser']} {pair['races']} times."
            )
    return evidence + [_outcome_sentence(stats)], {"endpoints": rows}


def _lock(project, rng, f, cause, stats):
    evidence = [_outcome_sentence(stats)]
    ms = stats["mean_resolve_ms"]
    if ms is not None:
        evidence.append(
            f"Locks here last about {ms / 1000:.1f} s: that is how long clients took on average "
            "from the locked answer to a successful write."
        )
    if stats["outcomes"]["retried"]:
        evidence.append(
            f"{stats['outcomes']['retried']} retries came back to a lock still held "
            "(sent before Retry-After had passed)."
        )
    return evidence, {"mean_resolve_ms": ms, "clients": _top_clients(project, rng, f, cause)}


def _missing(project, rng, f, cause, stats):
    endpoints = cq.conflicts_by_endpoint(project, rng, cause, f)
    names = _endpoint_names(endpoints)
    omitting: dict[str, int] = {}
    for ep_id in endpoints:
        for client, c in cq.coverage(project, rng, Filters(endpoint=ep_id), by="client").items():
            missing = c.writes - c.conditional_writes
            if missing and client:
                omitting[client] = omitting.get(client, 0) + missing
    ranked = sorted(omitting.items(), key=lambda kv: -kv[1])
    evidence = [
        f"{names.get(ep)}: {n} writes refused for lack of a precondition."
        for ep, n in sorted(endpoints.items(), key=lambda kv: -kv[1])
    ]
    if ranked:
        evidence.append(
            "Clients that write there without If-Match: "
            + ", ".join(f"{c} ({n} writes)" for c, n in ranked[:5])
        )
    clients = [{"client": c, "writes_without_precondition": n} for c, n in ranked]
    return evidence + [_outcome_sentence(stats)], {"clients": clients}


EVIDENCE = {
    "duplicate": _duplicate,
    "stale_version": _stale,
    "lock": _lock,
    "missing_precondition": _missing,
}
