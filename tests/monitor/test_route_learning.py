"""Parameters learned from cardinality: ten id families of 30 distinct values each end as one
endpoint per family, the counts of the endpoints they merged move with them (every grain,
conflicts, clients, resources, raw rows), and later records take the learned routes."""

import uuid
from datetime import timedelta

import pytest

from ingest.models import Request
from monitor.models import Endpoint, RouteRule
from monitor.routing import learning, merge
from monitor.tasks import learn_routes
from tests.records import record

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber "
    "basil cedar dune"
).split()
FAMILIES = {
    "/docs/{doc}": lambda i, w: f"/docs/{w}-guide",
    "/repos/{repo}/{name}": lambda i, w: f"/repos/{w}/{WORDS[-1 - i]}-tool",
    "/users/{user}/profile": lambda i, w: f"/users/{w}/profile",
    "/tags/{tag}/posts": lambda i, w: f"/tags/{w}/posts",
    "/files/{file}": lambda i, w: f"/files/{w}.pdf",
    "/orders/{id}": lambda i, w: f"/orders/order-{i + 17:05d}",
    "/v1/customers/{id}": lambda i, w: f"/v1/customers/cus_{w.capitalize()}Xy{i}Hib99",
    "/items/{id}": lambda i, w: f"/items/{uuid.UUID(int=i + 1)}",
    "/reports/{date}": lambda i, w: f"/reports/2024-05-{i + 1:02d}",
    "/accounts/{email}/keys": lambda i, w: f"/accounts/{w}@example.com/keys",
}


def family_records(start: int = 0) -> list[dict]:
    out = []
    n = start
    for make in FAMILIES.values():
        for i, word in enumerate(WORDS):
            out.append(record(n, path=make(i, word), client=f"client-{n % 4}"))
            n += 1
    return out


@pytest.fixture
def learning_shop(shop):
    shop.route_learning_threshold = 30
    shop.save()
    return shop


def routes_with_traffic(api, slug="shop") -> dict[str, int]:
    rows = api.get(f"/api/v1/projects/{slug}/endpoints/?from=-3h").json()
    return {f"{r['method']} {r['route']}": r["requests"] for r in rows}


def test_ten_families_of_thirty_values_become_one_endpoint_each(learning_shop, post_logs, api):
    post_logs(family_records())
    before = routes_with_traffic(api)
    assert len(before) == 5 * 30 + 5  # words are not ids until learned

    assert learn_routes() == 6  # docs, repos, repos/{repo}, users, tags, files

    after = routes_with_traffic(api)
    assert after == {f"GET {template}": 30 for template in FAMILIES}
    summary = api.get("/api/v1/projects/shop/summary/?from=-3h").json()
    assert summary["requests"] == 300
    learned = set(RouteRule.objects.filter(source="learned").values_list("template", "parent"))
    assert ("/repos/{repo}/{name}", "/repos/{repo}") in learned
    assert ("/docs/{doc}", "/docs") in learned
    for rule in RouteRule.objects.filter(source="learned"):
        assert rule.evidence["distinct_values"] >= 30
        assert len(rule.evidence["examples"]) == 10


def test_later_records_take_the_learned_route_and_make_no_new_endpoint(
    learning_shop, post_logs, api
):
    post_logs(family_records())
    learn_routes()
    count = Endpoint.objects.filter(merged_into__isnull=True).count()
    post_logs([record(1000, path="/docs/brand-new-guide"), record(1001, path="/repos/x/y/pulls")])
    assert Endpoint.objects.filter(merged_into__isnull=True).count() == count + 1
    routes = dict(
        Request.objects.filter(request_id__in=["req-1000", "req-1001"]).values_list("path", "route")
    )
    assert routes == {
        "/docs/brand-new-guide": "/docs/{doc}",
        "/repos/x/y/pulls": "/repos/{repo}/{name}/pulls",
    }
    after = routes_with_traffic(api)
    assert after["GET /docs/{doc}"] == 31


def test_a_merge_moves_every_count_with_it(learning_shop, post_logs, api):
    # Conflicts, writes with If-Match, several clients and latencies on the docs family.
    records = []
    for i, word in enumerate(WORDS):
        path = f"/docs/{word}-guide"
        records.append(record(2 * i, path=path, method="GET", client=f"c{i % 3}"))
        records.append(
            record(
                2 * i + 1,
                path=path,
                method="PUT",
                status=409 if i % 3 == 0 else 200,
                client=f"c{(i + 1) % 3}",
                request_headers={"if-match": f'"v{i}"'},
                duration_ms=100 + i,
            )
        )
    post_logs(records)
    views = [
        "summary/?from=-3h",
        "offenders/?from=-3h",
        "timeseries/?from=-3h&metric=requests&interval=1h",
        "timeseries/?from=-3d&metric=requests&interval=1d",
        "timeseries/?from=-3h&metric=conflicts&interval=1m&group=cause",
    ]
    before = {v: api.get(f"/api/v1/projects/shop/{v}").json() for v in views}
    hot_before = api.get("/api/v1/projects/shop/hotspots/?from=-3h").json()

    learn_routes()

    after = {v: api.get(f"/api/v1/projects/shop/{v}").json() for v in views}
    assert after == before
    hot_after = api.get("/api/v1/projects/shop/hotspots/?from=-3h").json()
    assert [(h["resource"], h["conflicts"]) for h in hot_after] == [
        (h["resource"], h["conflicts"]) for h in hot_before
    ]
    assert {h["route"] for h in hot_after} == {"/docs/{doc}"}
    endpoints = api.get("/api/v1/projects/shop/endpoints/?from=-3h").json()
    by_route = {(e["method"], e["route"]): e for e in endpoints}
    assert set(by_route) == {("GET", "/docs/{doc}"), ("PUT", "/docs/{doc}")}
    put = by_route[("PUT", "/docs/{doc}")]
    assert put["requests"] == 30
    assert put["conflicts"] == 10
    assert put["precondition_coverage"] == 1.0
    # Raw rows now belong to the merged endpoint: its page lists them.
    put_id = put["id"]
    listed = api.get(f"/api/v1/projects/shop/requests/?from=-3h&endpoint={put_id}&limit=100")
    assert len(listed.json()["results"]) == 30
    assert {r["route"] for r in listed.json()["results"]} == {"/docs/{doc}"}


def test_a_count_added_to_a_merged_endpoint_later_is_moved_by_the_next_pass(
    learning_shop, post_logs, api
):
    post_logs(family_records())
    learn_routes()
    old = Endpoint.objects.filter(merged_into__isnull=False, route="/docs/alpha-guide").get()
    # A batch in flight at the merge: its rows still name the old endpoint.
    post_logs([record(5000, path="/docs/alpha-guide")])
    Request.objects.filter(request_id="req-5000").update(endpoint=old, route=old.route)
    from monitor.models import StatusRollup

    StatusRollup.objects.create(
        project=learning_shop, endpoint=old, minute=record(5000)["ts"], status=200, n=1
    )
    merge.settle(learning_shop)
    assert not StatusRollup.objects.filter(endpoint=old).exists()
    assert not Request.objects.filter(endpoint=old).exists()


def test_a_removed_rule_is_not_learned_again(learning_shop, post_logs):
    post_logs(family_records())
    learn_routes()
    rule = RouteRule.objects.get(template="/docs/{doc}")
    from monitor.routing.changes import remove_rule

    remove_rule(learning_shop, rule)
    post_logs([record(9000 + i, path=f"/docs/{w}-faq") for i, w in enumerate(WORDS)])
    assert learning.learn(learning_shop) == []
    assert Request.objects.get(request_id="req-9000").route == "/docs/alpha-faq"


def test_the_first_segment_is_never_learned(learning_shop, post_logs):
    post_logs(
        [
            record(i, path=f"/{w}-{x}")
            for i, (w, x) in enumerate(zip(WORDS, WORDS[::-1], strict=True))
        ]
    )
    assert learning.learn(learning_shop) == []


def test_learning_is_off_at_zero(shop, post_logs):
    shop.route_learning_threshold = 0
    shop.save()
    post_logs(family_records())
    assert learning.learn(shop) == []


def test_param_names_read_like_the_resource():
    assert learning.param_name("/docs") == "doc"
    assert learning.param_name("/v1/entries") == "entry"
    assert learning.param_name("/repos/{repo}") == "name"
    assert learning.param_name("/a/{name}/{x}") == "name_2"
    assert learning.param_name("/v1") == "param"


def test_only_values_within_the_window_count(learning_shop, post_logs):
    post_logs(family_records())
    assert learning.learn(learning_shop, now=learning.timezone.now() + timedelta(days=2)) == []
