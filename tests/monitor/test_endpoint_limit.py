"""max_endpoints: 20,000 random scanner paths leave a project with at most max_endpoints
endpoints, every record counted (summary/ totals equal what was sent), and the project's API
and page say that routes overflowed and how to fix it."""

import random
import string
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingest.models import Request
from ingest.storage import OVERFLOW_ROOM
from monitor.models import OVERFLOW_ROUTE, Endpoint
from monitor.tasks import learn_routes
from tests.records import BASE, record

API = "/api/v1/projects/shop/"
SCANNER_DIRS = ["wp-admin", "wp-content", "cgi-bin", "phpmyadmin", "admin", ".git", "vendor"]
SCANNER_EXTS = [".php", ".env", ".bak", ".sql", ".zip", ".asp", ""]


def scanner_paths(n: int, seed: int = 22) -> list[str]:
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))

    out = []
    for _ in range(n):
        depth = rng.randint(1, 3)
        parts = [rng.choice(SCANNER_DIRS + [word()]) for _ in range(depth - 1)]
        parts.append(word() + rng.choice(SCANNER_EXTS))
        out.append("/" + "/".join(parts))
    return out


@pytest.mark.parametrize("max_endpoints", [2000, 50])
def test_random_scanner_paths_stay_within_the_limit_and_every_record_counts(
    shop, post_logs, api, max_endpoints
):
    shop.max_endpoints = max_endpoints
    shop.save()
    rng = random.Random(7)
    methods = ["GET"] * 8 + ["POST", "HEAD", "PROPFIND", "FOO"]
    records = [
        record(
            i,
            path=path,
            method=rng.choice(methods),
            status=rng.choice([404, 404, 403, 200]),
            # Ten a second, so that all of them lie in the last hour.
            ts=(BASE + timedelta(milliseconds=100 * i)).isoformat(),
        )
        for i, path in enumerate(scanner_paths(20_000))
    ]
    for start in range(0, len(records), 2000):
        answer = post_logs(records[start : start + 2000])
        assert answer.json()["accepted"] == 2000

    active = Endpoint.objects.filter(project=shop, merged_into__isnull=True)
    assert active.count() <= max_endpoints
    overflow = active.filter(route=OVERFLOW_ROUTE)
    assert set(overflow.values_list("method", flat=True)) == {"GET", "POST", "HEAD", "OTHER"}

    summary = api.get(API + "summary/?from=-3h").json()
    assert summary["requests"] == 20_000
    endpoints = api.get(API + "endpoints/?from=-3h").json()
    assert sum(e["requests"] for e in endpoints) == 20_000
    assert len(endpoints) <= max_endpoints

    limit = api.get(API).json()["endpoint_limit"]
    assert limit["overflowed"] is True
    assert limit["endpoints"] == active.count()
    assert limit["overflow_requests_24h"] == sum(
        e["requests"] for e in endpoints if e["route"] == OVERFLOW_ROUTE
    )
    assert "Declare route patterns" in limit["how_to_fix"]
    assert "import the API's OpenAPI document" in limit["how_to_fix"]

    # Learning on that traffic neither breaks the limit nor loses a count.
    shop.route_learning_threshold = 20
    shop.save()
    learn_routes()
    assert Endpoint.objects.filter(project=shop, merged_into__isnull=True).count() <= max_endpoints
    assert api.get(API + "summary/?from=-3h").json()["requests"] == 20_000
    after = api.get(API + "endpoints/?from=-3h").json()
    assert sum(e["requests"] for e in after) == 20_000


def test_room_is_kept_for_the_overflow_endpoints(shop, post_logs):
    shop.max_endpoints = 20
    shop.save()
    post_logs([record(i, path=f"/x/word{chr(97 + i % 26)}{i}") for i in range(40)])
    own = Endpoint.objects.filter(project=shop).exclude(route=OVERFLOW_ROUTE)
    assert own.count() == 20 - OVERFLOW_ROOM
    assert Endpoint.objects.filter(project=shop).count() == 20 - OVERFLOW_ROOM + 1


def test_known_routes_keep_their_endpoint_after_the_limit(shop, post_logs, api):
    shop.max_endpoints = 20
    shop.save()
    post_logs([record(0, path="/v1/orders/1")])
    post_logs([record(i, path=f"/junk/word{chr(97 + i % 26)}{i}") for i in range(1, 60)])
    post_logs([record(100, path="/v1/orders/2")])
    endpoints = {e["route"]: e["requests"] for e in api.get(API + "endpoints/?from=-3h").json()}
    assert endpoints["/v1/orders/{id}"] == 2
    assert sum(endpoints.values()) == 61


def test_new_routes_of_a_full_project_take_no_lock_on_it(shop, post_logs):
    """Once a project is full no new route can get an endpoint of its own, so a batch holding
    some (scanner paths, cache-busted files) goes to the overflow endpoints without waiting on
    the project row, which would hold every other batch of the project behind it."""
    shop.max_endpoints = 20
    shop.save()
    post_logs([record(i, path=f"/x/word{chr(97 + i % 26)}{i}") for i in range(40)])
    with CaptureQueriesContext(connection) as queries:
        post_logs([record(100 + i, path=f"/y/more{chr(97 + i % 26)}{i}") for i in range(40)])
    locks = [q["sql"] for q in queries if "FOR NO KEY UPDATE" in q["sql"]]
    assert not [sql for sql in locks if 'FROM "monitor_project"' in sql]
    assert Endpoint.objects.filter(project=shop).count() == 20 - OVERFLOW_ROOM + 1
    overflow = Endpoint.objects.get(project=shop, route=OVERFLOW_ROUTE)
    assert Request.objects.filter(endpoint=overflow).count() == 40 + 40 - (20 - OVERFLOW_ROOM)
    # Room made again (a higher limit): the next new route gets its own endpoint.
    shop.max_endpoints = 30
    shop.save()
    post_logs([record(200, path="/z/fresh")])
    assert Endpoint.objects.filter(project=shop, route="/z/fresh").exists()
