"""An admin fixes a project's endpoints in the browser: the settings page saves every setting
and shows an error beside a bad one; the routes page imports the real ReadMe API document,
declares a pattern, routes a test path, and shows each template's source."""

import gzip
from pathlib import Path

from monitor.models import Project
from tests.records import record

DATA = Path(__file__).resolve().parents[1] / "data" / "openapi"


def test_an_admin_sets_up_routes_and_settings(watched, sign_in, ship, alice, live_server, tmp_path):
    ship(
        [
            record(1, path="/v2/branches/stable/guides/intro"),
            record(2, path="/v2/branches/beta/guides/setup"),
            record(3, path="/shop/orders/order-00017"),
        ]
    )
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/")
    page.click("#alert-links >> text=Settings")

    # A bad value is shown beside its field and nothing is saved.
    page.fill("#route_patterns", "/shop/orders/{order}\norders/{id}")
    page.click("#save-settings")
    page.wait_for_selector(".field-error")
    assert "route_patterns[1]: 'orders/{id}' does not start with '/'" in page.inner_text(
        "#settings-form"
    )
    assert Project.objects.get(slug="shop").route_patterns == []
    watched.shot("routes-01-settings-error")

    page.fill("#race_window_s", "2.5")
    page.fill("#max_endpoints", "500")
    page.fill("#version_headers", "if-match, x-doc-version")
    page.fill("#extra_headers", "x-tenant")
    page.fill("#phrases_lock", "document is checked out")
    page.fill("#route_patterns", "/shop/orders/{order}")
    page.click("#save-settings")
    page.wait_for_selector("#messages")
    assert "Settings saved." in page.inner_text("#messages")
    project = Project.objects.get(slug="shop")
    assert project.race_window_seconds == 2.5
    assert project.max_endpoints == 500
    assert project.version_headers == ["if-match", "x-doc-version"]
    assert project.conflict_phrases == {"lock": ["document is checked out"]}
    assert project.route_patterns == ["/shop/orders/{order}"]
    assert page.input_value("#race_window_s") == "2.5"

    # Routes: import the real OpenAPI document, declare a pattern, test a path.
    page.click("#project-nav >> text=Routes")
    page.wait_for_selector("#routes")
    document = tmp_path / "readme-api.yaml"
    document.write_bytes(gzip.decompress((DATA / "readme-api.yaml.gz").read_bytes()))
    page.set_input_files("#document", str(document))
    page.click("#import button[type=submit]")
    page.wait_for_selector("#messages")
    assert "Imported 28 templates" in page.inner_text("#messages")
    watched.shot("routes-02-imported")

    page.fill("#template", "/v2/owlbot/{topic}")
    page.click("#declare button[type=submit]")
    page.wait_for_selector("#messages >> text=Declared /v2/owlbot/{topic}.")

    page.fill("#test-path", "/v2/branches/stable/guides/intro")
    page.click("#route-test button[type=submit]")
    page.wait_for_selector("#test-result")
    assert "/v2/branches/{branch}/guides/{slug}" in page.inner_text("#test-result")
    assert "openapi" in page.inner_text("#test-result")

    rows = {
        row.query_selector("code.route").inner_text(): row.get_attribute("data-source")
        for row in page.query_selector_all("#routes tr.route-row")
    }
    assert rows["/v2/owlbot/{topic}"] == "declared"
    assert rows["/shop/orders/{order}"] == "declared"
    assert rows["/v2/branches/{branch}/guides/{slug}"] == "openapi"
    watched.shot("routes-03-routes")

    # Later records take the imported route.
    ship([record(10, path="/v2/branches/stable/guides/faq")])
    page.goto(live_server.url + "/p/shop/routes/?source=openapi")
    guides = page.query_selector("#routes tr:has-text('/v2/branches/{branch}/guides/{slug}')")
    assert "GET" in guides.inner_text()
