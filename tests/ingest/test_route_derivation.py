"""Route templates derived from real-world paths: the template a person would write for each
(GitHub-, Stripe-, S3-, Slack-, document-store-style APIs and the usual REST shapes)."""

import pytest

from ingest.routes import derive_route

REAL_WORLD = [
    # GitHub
    ("/repos/octocat/hello-world/issues/1347", "/repos/octocat/hello-world/issues/{id}"),
    (
        "/repos/octocat/hello-world/commits/6dcb09b5b57875f334f61aebed695e2e4193db5e",
        "/repos/octocat/hello-world/commits/{id}",
    ),
    ("/repos/octocat/hello-world/commits/6dcb09b5", "/repos/octocat/hello-world/commits/{id}"),
    (
        "/repos/octocat/hello-world/pulls/42/reviews/80",
        "/repos/octocat/hello-world/pulls/{id}/reviews/{id}",
    ),
    ("/user/emails", "/user/emails"),
    ("/user/installations/12345678/repositories", "/user/installations/{id}/repositories"),
    ("/notifications/threads/1/subscription", "/notifications/threads/{id}/subscription"),
    ("/gists/aa5a315d61ae9438b18d", "/gists/{id}"),
    (
        "/repos/octocat/hello-world/actions/runs/30433642/jobs",
        "/repos/octocat/hello-world/actions/runs/{id}/jobs",
    ),
    ("/applications/Iv1.8a61f9b3a7aba766/token", "/applications/{id}/token"),
    # Stripe
    ("/v1/customers/cus_NffrFeUfNV2Hib", "/v1/customers/{id}"),
    ("/v1/customers/cus_NffrFeUfNVaHib/sources", "/v1/customers/{id}/sources"),
    ("/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15/refunds", "/v1/charges/{id}/refunds"),
    ("/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm", "/v1/payment_intents/{id}/confirm"),
    ("/v1/subscriptions/sub_1MowQVLkdIwHu7ixeRlqHVzs", "/v1/subscriptions/{id}"),
    ("/v1/accounts/acct_1032D82eZvKYlo2C/external_accounts", "/v1/accounts/{id}/external_accounts"),
    ("/v1/payment_methods", "/v1/payment_methods"),
    ("/v1/test_helpers/test_clocks", "/v1/test_helpers/test_clocks"),
    ("/v1/prices/price_1MoBy5LkdIwHu7ixZhnattbh", "/v1/prices/{id}"),
    # S3 (path style)
    (
        "/photos/2024/05/01/550e8400-e29b-41d4-a716-446655440000.jpg",
        "/photos/{id}/{id}/{id}/{id}.jpg",
    ),
    ("/backups/db/2024-05-01T03:00:00Z.sql.gz", "/backups/db/{date}.sql.gz"),
    ("/logs/2024-05-01/app.log", "/logs/{date}/app.log"),
    ("/uploads/IMG_0001.JPG", "/uploads/{id}.JPG"),
    ("/assets/d41d8cd98f00b204e9800998ecf8427e.css", "/assets/{id}.css"),
    # Fingerprinted files (a content hash between the name and the extension): one route for
    # every deploy's, long hash or short.
    ("/static/main.3f9a2b1c.js", "/static/{id}"),
    ("/static/app.3fa9b2c1.js", "/static/{id}"),
    ("/static/css/site.a1b2c3d4.css", "/static/css/{id}"),
    ("/js/app.0f1e2d3c.min.js", "/js/{id}"),
    ("/ui.1b2c3d4e.css", "/{id}"),
    ("/js/jquery.min.js", "/js/jquery.min.js"),
    ("/docs/readme.txt", "/docs/readme.txt"),
    # Slack
    ("/api/chat.postMessage", "/api/chat.postMessage"),
    ("/api/conversations.history", "/api/conversations.history"),
    ("/api/conversations/C024BE91L/members", "/api/conversations/{id}/members"),
    ("/api/users/U0G9QF9C6/profile", "/api/users/{id}/profile"),
    # Document store behind nginx
    ("/db/orders/order-00017", "/db/orders/{id}"),
    ("/db/invoices/INV-2024-0001", "/db/invoices/{id}"),
    ("/db/orders/order-00017/_rev/3-917fa2381192822767f010b95b45325b", "/db/orders/{id}/_rev/{id}"),
    ("/db/_design/reports/_view/by_day", "/db/_design/reports/_view/by_day"),
    ("/db/_all_docs", "/db/_all_docs"),
    ("/db/users/user12345", "/db/users/{id}"),
    # Usual REST shapes
    ("/v2/orders/42", "/v2/orders/{id}"),
    ("/v2/orders/42/", "/v2/orders/{id}/"),
    ("/api/v1/users/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/api/v1/users/{id}"),
    ("/api/v1/users/alice@example.com", "/api/v1/users/{email}"),
    ("/api/v1/users/alice%40example.com/settings", "/api/v1/users/{email}/settings"),
    ("/api/v1/users/me", "/api/v1/users/me"),
    ("/reports/2024-05", "/reports/{date}"),
    ("/sessions/eyJhbGciOiJIUzI1NiJ9xYz01", "/sessions/{id}"),
    ("/oauth2/token", "/oauth2/token"),
    ("/api/v2beta1/things", "/api/v2beta1/things"),
    ("/charset/utf-8", "/charset/utf-8"),
    ("/hash/sha256", "/hash/sha256"),
    ("/standards/iso8601", "/standards/iso8601"),
    ("/api/2.0/clusters/list", "/api/2.0/clusters/list"),
    ("/packages/requests/2.31.0", "/packages/requests/{id}"),
    ("/wp-admin/admin-ajax.php", "/wp-admin/admin-ajax.php"),
    ("/", "/"),
]


@pytest.mark.parametrize(("path", "template"), REAL_WORLD, ids=[p for p, _ in REAL_WORLD])
def test_it_gives_the_template_a_person_would_write(path, template):
    assert derive_route(path) == template


def test_the_table_covers_at_least_forty_paths():
    assert len(REAL_WORLD) >= 40
