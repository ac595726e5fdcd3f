"""deploys/: CI records a release; the charts mark it, the endpoint page compares the hour after
it with the hour before (from the rollups), and `manage.py deploy` does the same from a shell."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitor.models import Deploy
from monitor.reads import deploys
from tests.alerts.conftest import records_for

DEPLOYS = "/api/v1/projects/shop/deploys/"
# The deploy: whole minutes, two hours back, so that the hour after it is complete.
AT = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def _post(client, body):
    return client.post(DEPLOYS, body, content_type="application/json")


def test_ci_records_a_deploy_and_lists_it(api, alice):
    before = timezone.now()
    answer = _post(api, {"version": "v2.4.0"})
    assert answer.status_code == 201, answer.content
    made = answer.json()
    assert made["version"] == "v2.4.0"
    assert made["created_by"] == "alice"
    assert before <= datetime.fromisoformat(made["ts"]) <= timezone.now()

    full = {
        "version": "v2.3.9",
        "ts": (AT - timedelta(minutes=5)).isoformat(),
        "environment": "production",
        "description": "Moves orders to optimistic locking.\nSecond line.",
        "url": "https://ci.example.com/builds/42",
    }
    assert _post(api, full).status_code == 201
    listed = api.get(DEPLOYS).json()
    assert [d["version"] for d in listed["results"]] == ["v2.4.0", "v2.3.9"]
    assert listed["results"][1]["environment"] == "production"
    assert listed["results"][1]["description"] == full["description"]
    assert [
        d["version"] for d in api.get(DEPLOYS, {"environment": "production"}).json()["results"]
    ] == ["v2.3.9"]
    older = api.get(DEPLOYS, {"from": "-30d", "to": (AT - timedelta(minutes=1)).isoformat()})
    assert [d["version"] for d in older.json()["results"]] == ["v2.3.9"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "version"),
        ({"version": ""}, "version"),
        ({"version": "v1\r\nInjected: yes"}, "version"),
        ({"version": "x" * 201}, "version"),
        ({"version": "v1", "ts": "yesterday"}, "ts"),
        ({"version": "v1", "ts": "2999-01-01T00:00:00Z"}, "ts"),
        ({"version": "v1", "url": "javascript:alert(1)"}, "url"),
        ({"version": "v1", "environment": "prod\x00"}, "environment"),
    ],
)
def test_a_bad_deploy_is_refused_with_the_field_named(api, body, field):
    answer = _post(api, body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(f"{field}:"), answer.json()
    assert Deploy.objects.count() == 0


def test_a_read_only_member_reads_deploys_and_an_outsider_sees_none(api_bob, api_charlie, shop):
    Deploy.objects.create(project=shop, version="v1", ts=AT)
    assert [d["version"] for d in api_bob.get(DEPLOYS).json()["results"]] == ["v1"]
    assert _post(api_bob, {"version": "v2"}).status_code == 403
    assert api_charlie.get(DEPLOYS).status_code == 404
    assert _post(api_charlie, {"version": "v2"}).status_code == 404
    assert Deploy.objects.count() == 1


def test_manage_py_deploy_records_one(shop):
    out = StringIO()
    call_command(
        "deploy", "shop", "v3.0.0", "--environment", "staging", "--ts", AT.isoformat(), stdout=out
    )
    deploy = Deploy.objects.get()
    assert (deploy.version, deploy.environment, deploy.ts) == ("v3.0.0", "staging", AT)
    assert out.getvalue().strip().endswith(f"v3.0.0 (staging) at {AT:%Y-%m-%dT%H:%M:%S}Z")
    with pytest.raises(CommandError, match="no project 'nope'"):
        call_command("deploy", "nope", "v1")
    with pytest.raises(CommandError, match="--ts"):
        call_command("deploy", "shop", "v1", "--ts", "soon")


@pytest.fixture
def around_a_deploy(post_logs, shop):
    """An hour at 10% conflicts before the deploy, an hour at 40% after it, 600 requests each."""
    for hour, rate in ((-1, 0.1), (0, 0.4)):
        start = AT + timedelta(hours=hour)
        records = records_for(start, 600, int(600 * rate), tag=f"h{hour}", span_seconds=3599)
        assert post_logs(records).json()["accepted"] == 600
    return Deploy.objects.create(project=shop, version="v2.4.0", ts=AT + timedelta(seconds=20))


def test_the_hour_after_a_deploy_is_compared_with_the_hour_before(around_a_deploy, shop):
    compared = deploys.comparison(shop, around_a_deploy)
    rows = {row["name"]: row for row in compared["rows"]}
    assert (rows["Requests"]["before"], rows["Requests"]["after"]) == (600, 600)
    assert (rows["Conflicts"]["before"], rows["Conflicts"]["after"]) == (60, 240)
    assert rows["Conflict rate"]["delta"] == pytest.approx(0.3)
    assert compared["complete"] is True


def test_the_endpoint_page_shows_the_comparison_and_every_chart_marks_the_deploy(
    around_a_deploy, client, alice, shop
):
    client.force_login(alice)
    put = shop.endpoints.get(method="PUT")
    window = {
        "from": (AT - timedelta(hours=1)).isoformat(),
        "to": (AT + timedelta(hours=1)).isoformat(),
    }
    page = client.get(f"/p/shop/endpoints/{put.id}/", window)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="deploy-comparison" data-deploy="{around_a_deploy.id}"' in html
    comparison = page.context["deploy_comparison"]
    rows = {row["name"]: row for row in comparison["rows"]}
    # The PUT endpoint carries every conflict: 60 of 60 before, 240 of 240 after.
    assert (rows["Conflicts"]["before"], rows["Conflicts"]["after"]) == (60, 240)
    for chart in ("timeline", "traffic", "latency"):
        [marker] = page.context[chart]["markers"]
        assert marker["kind"] == "deploy" and marker["label"] == "v2.4.0"
        data = json.loads(
            html.split(f'id="{chart}-data" type="application/json">')[1].split("<")[0]
        )
        assert data["markers"] == [marker]
        assert data["labels"][marker["at"]] <= marker["ts"]

    overview = client.get("/p/shop/", window)
    assert [m["kind"] for m in overview.context["traffic"]["markers"]] == ["deploy"]
    assert "v2.4.0" in overview.content.decode().split('id="deploy-markers"')[1][:300]
    acme = client.get("/p/shop/client/", {**window, "c": "acme-mobile"})
    [marker] = acme.context["activity"]["markers"]
    assert marker["label"] == "v2.4.0"
    assert sum(acme.context["activity"]["series"][1]["data"]) == 300


def test_a_deploy_outside_the_range_is_not_marked(around_a_deploy, client, alice):
    client.force_login(alice)
    later = {
        "from": (AT + timedelta(hours=1)).isoformat(),
        "to": (AT + timedelta(hours=2)).isoformat(),
    }
    page = client.get("/p/shop/", later)
    assert page.context["traffic"]["markers"] == []
    assert 'id="deploy-markers"' not in page.content.decode()
