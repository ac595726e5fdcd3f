"""A project's routes as the routes page and GET routes/ show them: every template with its
source, how a path would be routed, and whether the project ran out of endpoints (and what to
do about it)."""

from collections import defaultdict
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from ingest.routes import (
    DECLARED,
    DERIVED,
    GATEWAY,
    LEARNED,
    OPENAPI,
    build_table,
)
from monitor.models import Endpoint, Project, RouteRule, StatusHourRollup

OVERFLOW = Endpoint.Source.OVERFLOW


def routes(project: Project, source: str | None = None) -> list[dict]:
    """The project's templates, declared first, then imported, learned, then those of its
    endpoints (gateway, derived): {template, source, id, methods, endpoints, evidence,
    created_at, removed_at}. `id` is the rule's (imported and learned) for DELETE."""
    endpoints: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    rows = Endpoint.objects.filter(project=project, merged_into__isnull=True).exclude(
        source=OVERFLOW
    )
    for ep_id, method, route, ep_source in rows.values_list("id", "method", "route", "source"):
        endpoints[ep_source][route].append((method, ep_id))

    def entry(template, src, *, methods=None, rule=None, count=None) -> dict:
        seen = endpoints[src].get(template, [])
        return {
            "template": template,
            "source": src,
            "id": rule.id if rule else None,
            "methods": methods if methods is not None else sorted({m for m, _ in seen}),
            "endpoints": count if count is not None else len(seen),
            "evidence": rule.evidence if rule and rule.source == LEARNED else None,
            "created_at": rule.created_at if rule else None,
            "removed_at": rule.removed_at if rule else None,
        }

    out = [entry(t, DECLARED) for t in project.route_patterns or () if isinstance(t, str)]
    rules = RouteRule.objects.filter(project=project).order_by("source", "template")
    learned_counts = _learned_endpoint_counts(endpoints[LEARNED])
    for rule in rules:
        if rule.source == OPENAPI:
            out.append(entry(rule.template, OPENAPI, methods=rule.methods or None, rule=rule))
        else:
            out.append(
                entry(rule.template, LEARNED, rule=rule, count=learned_counts(rule.template))
            )
    for src in (GATEWAY, DERIVED):
        out += [entry(t, src) for t in sorted(endpoints[src])]
    if source:
        out = [e for e in out if e["source"] == source]
    return out


def _learned_endpoint_counts(learned: dict[str, list]):
    def count(template: str) -> int:
        prefix = template + "/"
        return sum(len(eps) for r, eps in learned.items() if r == template or r.startswith(prefix))

    return count


def route_of_path(project: Project, path: str) -> tuple[str, str]:
    """(template, source) the project's routing gives a path (without a gateway route)."""
    return build_table(project).route(path)


def endpoint_limit(project: Project, *, always_count: bool = True) -> dict:
    """How many endpoints the project has against its limit, and whether routes overflowed.
    With always_count False the count is left at None unless they did (one query less for a
    page that only speaks up when they did)."""
    active = Endpoint.objects.filter(project=project, merged_into__isnull=True)
    overflow = dict(active.filter(source=OVERFLOW).values_list("id", "method"))
    count = active.count() if overflow or always_count else None
    since = timezone.now() - timedelta(hours=24)
    counted = 0
    if overflow:
        counted = (
            StatusHourRollup.objects.filter(
                project=project, endpoint_id__in=overflow, minute__gte=since
            ).aggregate(n=Sum("n"))["n"]
            or 0
        )
    out = {
        "endpoints": count,
        "max_endpoints": project.max_endpoints,
        "overflowed": bool(overflow),
        "overflow_endpoints": [
            {"id": ep_id, "method": method} for ep_id, method in sorted(overflow.items())
        ],
        "overflow_requests_24h": counted,
        "how_to_fix": None,
    }
    if overflow:
        out["how_to_fix"] = (
            f"The project reached its limit of {project.max_endpoints} endpoints, so requests "
            "to routes seen since then are counted under '{method} /{overflow}' (nothing is "
            "dropped). Declare route patterns such as /orders/{id} in the project settings, "
            "import the API's OpenAPI document on the routes page (or POST routes/import/), "
            "lower the route learning threshold, or raise max_endpoints. Routes merged by "
            "a pattern free their endpoints; counts already under the overflow endpoint stay "
            "there."
        )
    return out
