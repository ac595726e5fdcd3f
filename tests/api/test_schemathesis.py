"""Property-based tests of every operation in the served OpenAPI document (schemathesis):
at least 100 generated calls per operation, each made with an API token and without one; no
answer is a 500 and every answer matches the document (status code, content type, body, headers).

Runs in-process against the WSGI application, in the Postgres run of the suite.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from monitor.wsgi import application
from tests.records import record

pytestmark = pytest.mark.postgres


# Loaded at collection, through the application itself: the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
# No 500s, and every answer as documented. (Whether a schema-valid value is accepted is not
# checked: `from`, `to` and `cursor` are validated beyond what JSON Schema can say, and answer
# a documented 400 naming the parameter.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def shop_with_traffic(alice, post_logs, settings):
    """shop holds traffic (every conflict status) and a source; calls go to the WSGI app."""
    settings.CONFLICTWATCH_API_RATE = ""  # thousands of calls from one token
    statuses = [200, 201, 204, 404, 409, 412, 423, 428, 500]
    post_logs(
        [
            record(
                i,
                status=statuses[i % len(statuses)],
                method=["GET", "POST", "PUT", "PATCH", "DELETE"][i % 5],
                client=f"client-{i % 3}",
                response_body="already exists" if i % 2 else None,
            )
            for i in range(60)
        ]
    )
    # The real WSGI handler closes connections it thinks are stale at the end of a request,
    # which would end the test's transaction; Django's test client does the same as this.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def alice_token(alice) -> str:
    return Token.objects.get_or_create(user=alice)[0].key


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, shop_with_traffic, alice_token):
    case.call_and_validate(checks=CHECKS)  # unauthenticated: 401 as documented
    if case.path_parameters and "slug" in case.path_parameters:
        case.path_parameters["slug"] = "shop"  # reach real data, not only 404s
    case.call_and_validate(headers={"Authorization": f"Token {alice_token}"}, checks=CHECKS)
