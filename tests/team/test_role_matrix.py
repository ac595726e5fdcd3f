"""The role matrix: every routed project page and API operation (found in the URL resolver, so
new routes are covered as they land) × {non-member, viewer, admin, superuser}.

- a non-member (charlie, admin of another project) gets 404 for every method, every object;
- a viewer (bob) reads everything (200) and every write is 403, changing nothing;
- an admin (alice) and a superuser (root, no membership) read (200) and may write: the write is
  answered on its merits (2xx, 3xx or a 400 naming a field), never 401/403/404/405/5xx.

Writes run inside a savepoint that is rolled back, so that each persona meets the same objects.
"""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from ingest.models import Request
from monitor.alerts.models import AlertRule, Channel, Incident
from monitor.models import Invitation, Membership, RouteRule
from monitor.team.invitations import create_invitation
from tests.api.conftest import token_client
from tests.records import record

READ, WRITE = "read", "write"
API_METHODS = ("get", "post", "put", "patch", "delete")
# Pages are functions: which methods each accepts, and what they do. A new page route fails
# test_every_page_route_is_classified until it is listed here.
PAGES = {
    "overview": {"get": READ},
    "endpoint": {"get": READ},
    "request": {"get": READ},
    "resource": {"get": READ},
    "client": {"get": READ},
    "explorer": {"get": READ},
    "tail": {"get": READ},
    "tail-rows": {"get": READ},
    "alerts:rules": {"get": READ, "post": WRITE},
    "alerts:rule": {"get": READ, "post": WRITE},
    "alerts:toggle": {"post": WRITE},
    "alerts:test": {"post": WRITE},
    "alerts:delete": {"post": WRITE},
    "alerts:add-channel": {"post": WRITE},
    "alerts:remove-channel": {"post": WRITE},
    "alerts:test-channel": {"post": WRITE},
    "alerts:incident": {"get": READ},
    "alerts:incidents": {"get": READ},
    "alerts:acknowledge": {"post": WRITE},
    "alerts:mute": {"post": WRITE},
    "sources": {"get": READ, "post": WRITE},
    "new-source": {"post": WRITE},
    "source-rotate": {"post": WRITE},
    "source-revoke": {"post": WRITE},
    "members": {"get": READ, "post": WRITE},
    "member": {"post": WRITE},
    "member-remove": {"post": WRITE},
    "invitation-resend": {"post": WRITE},
    "invitation-cancel": {"post": WRITE},
    # The settings page is for admins only, to read too.
    "project-settings": {"get": WRITE, "post": WRITE},
    "routes": {"get": READ},
    "routes-import": {"post": WRITE},
    "routes-declare": {"post": WRITE},
    "routes-undeclare": {"post": WRITE},
    "routes-remove": {"post": WRITE},
}
# URL arguments whose name means another object on some routes.
ARGUMENTS = {"routes-remove": {"rule_id": "route_rule_id"}}
QUERIES = {
    "resource": "?r=/v1/orders/1",
    "client": "?c=web",
    "tail-rows": "?cursor=0",
    "api-routes-test": "?path=/v1/orders/1",
}


def routes() -> list[tuple[str, str, object]]:
    """(route template, name, callback) of every project page and project API route."""
    found = []

    def walk(patterns, prefix, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith(("p/<slug:slug>/", "api/v1/projects/<slug:slug>/")):
                    name = f"{namespace}:{p.name}" if namespace else p.name
                    found.append((route, name, p.callback))

    walk(get_resolver().url_patterns, "", None)
    return found


def operations(route: str, name: str, callback) -> dict[str, str]:
    """{method: READ or WRITE} of a route."""
    view = getattr(callback, "cls", None)
    if view is not None:
        return {m: READ if m == "get" else WRITE for m in API_METHODS if hasattr(view, m)}
    return PAGES[name]


@pytest.fixture
def objects(alice, bob, charlie, post_logs, shop):
    """One of every object of shop a URL can name."""
    post_logs(
        [
            record(1, client="web"),
            record(2, method="PUT", status=409, client="app", request_headers={"if-match": "1"}),
        ]
    )
    rule = AlertRule.objects.filter(project=shop).first()
    now = timezone.now()
    incident = Incident.objects.create(
        rule=rule, opened_at=now - timedelta(minutes=5), value=1, peak_value=1, threshold=0.5
    )
    invitation = create_invitation(shop, "dora@example.com", "viewer", alice)
    # A closed local port: a test send fails fast and goes nowhere.
    channel = Channel.objects.create(rule=rule, kind="webhook", target="http://127.0.0.1:9/hook")
    route_rule = RouteRule.objects.create(
        project=shop, source=RouteRule.Source.OPENAPI, template="/v1/orders/{id}"
    )
    conflict = Request.objects.get(project=shop, status=409)
    return {
        "endpoint_id": conflict.endpoint_id,
        "request_id": conflict.id,
        "rule_id": rule.id,
        "incident_id": incident.id,
        "source_id": shop.sources.first().id,
        "member_id": Membership.objects.get(user=bob, project=shop).id,
        "invitation_id": invitation.id,
        "channel_id": channel.id,
        "route_rule_id": route_rule.id,
        "routes": route_rule.id,
        # API detail routes: the collection named before <int:pk>.
        "requests": conflict.id,
        "conflicts": conflict.id,
        "rules": rule.id,
        "incidents": incident.id,
        "sources": shop.sources.first().id,
        "members": Membership.objects.get(user=bob, project=shop).id,
        "invitations": invitation.id,
    }


def url_for(route: str, name: str, objects: dict) -> str:
    def value(match):
        param = match.group(1)
        if param == "slug":
            return "shop"
        if param == "pk":
            collection = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            return str(objects[collection])
        return str(objects[ARGUMENTS.get(name, {}).get(param, param)])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route) + QUERIES.get(name, "")


def personas(alice, bob, charlie, root) -> dict[str, dict[str, Client]]:
    """Each persona through a browser session and through an API token."""
    out = {}
    for label, user in (
        ("non-member", charlie),
        ("viewer", bob),
        ("admin", alice),
        ("superuser", root),
    ):
        session = Client()
        session.force_login(user)
        out[label] = {"session": session, "token": token_client(user)}
    return out


def call(client: Client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, {}, content_type="application/json")


def snapshot() -> list:
    """What a write could change: members, invitations, sources, rules, incidents."""
    return [
        sorted(Membership.objects.values_list("id", "role")),
        sorted(Invitation.objects.values_list("id", "sent_at", "accepted_at")),
        sorted(
            __import__("ingest.models").models.Source.objects.values_list(
                "id", "token_hash", "revoked_at"
            )
        ),
        sorted(AlertRule.objects.values_list("id", "enabled", "updated_at")),
        sorted(Incident.objects.values_list("id", "acknowledged_at", "muted_until")),
        sorted(Channel.objects.values_list("id", "target")),
    ]


def test_every_page_route_is_classified():
    pages = {name for route, name, callback in routes() if not hasattr(callback, "cls")}
    assert pages - PAGES.keys() == set(), "classify the new page routes in PAGES"


def test_the_role_matrix(objects, alice, bob, charlie, root, settings):
    settings.CONFLICTWATCH_API_RATE = ""  # hundreds of calls from one token
    clients = personas(alice, bob, charlie, root)
    wrong = []
    checked = 0
    for route, name, callback in routes():
        url = url_for(route, name, objects)
        is_api = route.startswith("api/")
        for method, kind in operations(route, name, callback).items():
            for label, by in clients.items():
                for how, client in by.items():
                    if how == "token" and not is_api:
                        continue  # pages are for browsers
                    before = snapshot()
                    with transaction.atomic():
                        answer = call(client, method, url)
                        transaction.set_rollback(True)
                    status = answer.status_code
                    checked += 1
                    if label == "non-member":
                        ok = status == 404
                    elif label == "viewer":
                        ok = status == (200 if kind == READ else 403)
                        ok = ok and (kind == READ or snapshot() == before)
                    elif kind == READ:
                        ok = status == 200
                    else:
                        ok = status < 500 and status not in (401, 403, 404, 405)
                    if not ok:
                        wrong.append((label, how, method.upper(), url, status))
    assert wrong == [], "\n".join(map(str, wrong))
    assert checked > 300
