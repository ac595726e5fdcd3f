"""Hot paths make a fixed number of queries, whatever the number of records or endpoints."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.records import record


def many(n: int, endpoints: int, offset: int = 0) -> list[dict]:
    # One instant for every record: a batch that touched another UTC day (around midnight)
    # would also check that day's partition, which is not what these tests count.
    return [
        record(
            offset + i,
            ts=record()["ts"],
            path=f"/v1/things{i % endpoints}/{offset + i}",
            status=(200, 409)[i % 2],
        )
        for i in range(n)
    ]


def queries_for(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_ingest_makes_as_many_queries_for_500_records_as_for_10(post_logs):
    post_logs(many(10, 5, offset=10_000))  # endpoints exist after this
    small = queries_for(lambda: post_logs(many(10, 5)))
    large = queries_for(lambda: post_logs(many(500, 5, offset=1000)))
    assert large == small


def test_dashboard_pages_make_as_many_queries_for_40_endpoints_as_for_4(
    client, alice, shop, post_logs
):
    from monitor.models import Endpoint, Project

    post_logs(many(40, 4))
    client.force_login(alice)
    ep = Endpoint.objects.first().id
    from ingest.models import Request

    row = Request.objects.filter(status=409).first().id
    urls = [
        "/p/shop/",
        f"/p/shop/endpoints/{ep}/",
        "/",
        f"/p/shop/requests/{row}/",
        "/p/shop/requests/",
        "/p/shop/requests/?status=409&path=/v1/&cause=unknown",
        "/p/shop/client/?c=acme",
        "/p/shop/resource/?r=/v1/things0/0",
        "/p/shop/requests/?status=4xx&conflicts=1&range=1h",
        "/p/shop/requests/?client=acme&range=1h",
        "/p/shop/tail/?conflicts=1",
        "/p/shop/tail/rows/?cursor=0",
    ]

    def per_page() -> dict[str, int]:
        return {url: queries_for(lambda u=url: client.get(u)) for url in urls}

    few = per_page()
    post_logs(many(400, 40, offset=5000))
    assert Project.objects.get(slug="shop").endpoints.count() >= 40
    assert per_page() == few


def test_api_lists_make_as_many_queries_for_many_rows_as_for_few(api, post_logs):
    post_logs(many(20, 4))
    urls = [
        "/api/v1/projects/",
        "/api/v1/projects/shop/summary/",
        "/api/v1/projects/shop/endpoints/",
        "/api/v1/projects/shop/requests/",
    ]
    few = queries_for(lambda: [api.get(u) for u in urls])
    post_logs(many(400, 40, offset=5000))
    assert queries_for(lambda: [api.get(u) for u in urls]) == few
