"""Postgres unreachable: every API answers 503 JSON with Retry-After and every page a plain 503
page, never a 500; both answer normally again once the database is back."""

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from monitor.api.errors import server_error
from monitor.models import Endpoint
from tests.ingest.test_database_down import database_down

pytestmark = pytest.mark.postgres

API = [
    "/api/v1/projects/",
    "/api/v1/projects/shop/",
    "/api/v1/projects/shop/summary/",
    "/api/v1/projects/shop/endpoints/",
    "/api/v1/projects/shop/timeseries/",
    "/api/v1/projects/shop/requests/",
    "/api/v1/projects/shop/requests/1/",
    "/api/v1/projects/shop/conflicts/",
    "/api/v1/projects/shop/offenders/",
    "/api/v1/projects/shop/hotspots/",
    "/api/v1/projects/shop/rules/",
    "/api/v1/projects/shop/incidents/",
    "/api/v1/projects/shop/sources/",
    "/api/v1/projects/shop/export/requests.csv",
]
PAGES = [
    "/",
    "/p/shop/",
    "/p/shop/requests/",
    "/p/shop/requests/1/",
    "/p/shop/endpoints/{endpoint}/",
    "/p/shop/resource/?resource=/v1/orders/1",
    "/p/shop/client/?client=acme",
    "/p/shop/alerts/",
    "/p/shop/incidents/",
    "/p/shop/sources/new/",
]


@pytest.fixture
def people(transactional_db, alice):
    if connection.vendor != "postgresql":
        pytest.skip("the database is taken away by pointing the connection at a closed port")
    endpoint = Endpoint.objects.create(project=alice.projects.get(), method="GET", route="/x")
    return Token.objects.create(user=alice).key, endpoint.id


@pytest.fixture
def browser(alice):
    """A signed-in browser that, like a real one, gets the error page rather than a traceback."""
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


def test_every_api_answers_503_json_with_retry_after(client, people):
    key, _ = people
    with database_down():
        answers = {url: client.get(url, HTTP_AUTHORIZATION=f"Token {key}") for url in API}
    for url, answer in answers.items():
        assert answer.status_code == 503, url
        assert answer["Content-Type"] == "application/json", url
        assert int(answer["Retry-After"]) > 0, url
        assert answer.json() == {"error": "database unavailable; retry later"}, url
    assert client.get(API[0], HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_every_page_answers_a_plain_503_page(browser, people):
    _, endpoint = people
    urls = [url.format(endpoint=endpoint) for url in PAGES]
    with database_down():
        answers = {url: browser.get(url) for url in urls}
    for url, answer in answers.items():
        assert answer.status_code == 503, url
        assert answer["Content-Type"].startswith("text/html"), url
        assert int(answer["Retry-After"]) > 0, url
        assert b"ConflictWatch is unavailable" in answer.content, url
        assert b"Traceback" not in answer.content
    assert browser.get("/").status_code == 200


def test_a_write_from_a_page_answers_503_too(browser, people):
    with database_down():
        answer = browser.post("/p/shop/alerts/", {"name": "x"})
    assert answer.status_code == 503


def test_other_errors_keep_the_500_page(rf):
    try:
        raise RuntimeError("a bug, not the database")
    except RuntimeError:
        answer = server_error(rf.get("/"))
    assert answer.status_code == 500
