"""Parameters learned from cardinality.

When one segment position under one parent route takes many distinct values within a day
(`/docs/intro`, `/docs/setup`, … or `/repos/alice/…`, `/repos/bob/…`), that position is a
parameter: a rule `/docs/{doc}` is stored with its evidence, ingest applies it to later records
(ingest/routes.py), and the endpoints it names alike are merged (monitor/routing/merge.py).

The values are read from what is already bounded: the routes of the project's derived and
learned endpoints with traffic in the last 24 hours (from the hour rollups), plus the derived
routes of the newest raw rows counted under an overflow endpoint. Counting runs in a periodic
task, never at ingest, which only looks rules up.

The first segment is never a learned parameter (a scanner's random top-level paths would make
`/{x}` swallow the whole API), and a rule a user removed is not learned again.
"""

import re
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ingest.models import Request
from ingest.routes import DERIVED, LEARNED, PARAM, Learned, LearnedParam, build_table
from monitor.models import Endpoint, Project, RouteRule, StatusHourRollup
from monitor.rules.timebuckets import HOUR, floor

WINDOW = timedelta(hours=24)
MAX_OVERFLOW_ROWS = 50_000
MAX_EXAMPLES = 10
MAX_ROUNDS = 8
MAX_EXAMPLE = 100  # characters of one example kept in the evidence
MAX_PARENT = 400  # a longer parent route is not learned (a template has at most 512)


def candidate_routes(project: Project, now: datetime) -> set[str]:
    """The derived and learned routes the project saw within the window."""
    since = now - WINDOW
    busy = StatusHourRollup.objects.filter(project=project, minute__gte=floor(since, HOUR)).values(
        "endpoint_id"
    )
    routes = set(
        Endpoint.objects.filter(
            project=project,
            merged_into__isnull=True,
            source__in=[DERIVED, LEARNED],
            id__in=busy,
        ).values_list("route", flat=True)
    )
    overflow = list(
        Endpoint.objects.filter(project=project, source=Endpoint.Source.OVERFLOW).values_list(
            "id", flat=True
        )
    )
    if overflow:
        rows = (
            Request.objects.filter(project=project, endpoint_id__in=overflow, ts__gte=since)
            .order_by("-ts")
            .values_list("route", flat=True)[:MAX_OVERFLOW_ROWS]
        )
        routes.update(rows)
    return routes


def distinct_values(routes, learned: Learned, cap: int) -> dict[str, set[str]]:
    """{parent route: the distinct values of the segment after it}, parents of at least one
    segment, with the learned rules applied; each set stops growing at `cap`."""
    values: dict[str, set[str]] = defaultdict(set)
    for route in routes:
        segs = learned.apply(route)[0].split("/")
        for i in range(2, len(segs)):
            if not segs[i]:
                continue
            seen = values["/".join(segs[:i])]
            if len(seen) < cap:
                seen.add(segs[i])
    return values


def param_name(parent: str) -> str:
    """A name for the parameter after `parent`: the singular of the resource it lists
    (/docs → {doc}), `name` after another parameter; unique within the template."""
    segs = parent.split("/")
    used = {m for seg in segs for m in PARAM.findall(seg)}
    last = segs[-1]
    if PARAM.fullmatch(last):
        base = "name"
    else:
        base = _singular(re.sub(r"[^a-z0-9]+", "_", last.lower()).strip("_"))[:40]
        if not base or not base[0].isalpha() or any(c.isdigit() for c in base):
            base = "param"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    return name


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def learn(project: Project, now: datetime | None = None) -> list[RouteRule]:
    """Find the segment positions that passed the project's threshold and store a rule for
    each (with its evidence); returns the new rules. The caller merges endpoints."""
    threshold = project.route_learning_threshold
    if not threshold:
        return []
    now = now or timezone.now()
    table = build_table(project)
    known = set(
        RouteRule.objects.filter(project=project, source=RouteRule.Source.LEARNED).values_list(
            "parent", flat=True
        )
    )
    routes = [
        r
        for r in candidate_routes(project, now)
        if table.declared.match(r) is None and table.imported.match(r) is None
    ]
    learned = table.learned
    found: list[tuple[LearnedParam, set[str]]] = []
    cap = threshold + MAX_EXAMPLES
    for _ in range(MAX_ROUNDS):
        counted = distinct_values(routes, learned, cap)
        passed = sorted(
            (
                p
                for p, v in counted.items()
                if len(v) >= threshold and p not in known and len(p) <= MAX_PARENT
            ),
            key=lambda p: (p.count("/"), p),
        )
        taken: list[str] = []
        for parent in passed:
            # A parent below one taken in this round is counted again once that one applies.
            if any(parent.startswith(t + "/") for t in taken):
                continue
            rule = LearnedParam(parent, "{" + param_name(parent) + "}")
            learned.add(rule)
            known.add(parent)
            taken.append(parent)
            found.append((rule, counted[parent]))
        if not taken:
            break
    if not found:
        return []
    rules = [
        RouteRule(
            project=project,
            source=RouteRule.Source.LEARNED,
            template=rule.template,
            parent=rule.parent,
            evidence={
                "distinct_values": len(values),
                "at_least": len(values) >= cap,
                "threshold": threshold,
                "window_hours": int(WINDOW.total_seconds() // 3600),
                "examples": [v[:MAX_EXAMPLE] for v in sorted(values)[:MAX_EXAMPLES]],
                "learned_at": now.isoformat(),
            },
        )
        for rule, values in found
    ]
    with transaction.atomic():
        RouteRule.objects.bulk_create(rules, ignore_conflicts=True)
        Project.objects.filter(pk=project.pk).update(routes_version=F("routes_version") + 1)
    project.refresh_from_db(fields=["routes_version"])
    return list(
        RouteRule.objects.filter(
            project=project,
            source=RouteRule.Source.LEARNED,
            template__in=[r.template for r in rules],
        )
    )
