"""Slack channels against a real local receiver shaped like Slack's incoming webhooks: the body
is Block Kit that Slack's own SDK models accept, and log text arrives escaped as Slack asks."""

import json

from slack_sdk.models.blocks import Block

from monitor.alerts.models import Incident
from monitor.models import Deploy
from tests.alerts.conftest import minute, per_minute, records_for

HOSTILE_PATH = "/v1/orders/1/<script>alert(1)</script>/`x`"
HOSTILE_CLIENT = "<!channel> & <https://evil.example|click> *bold*"


def _texts(node) -> list[str]:
    """Every "text" string in a block tree."""
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        return found + [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


def assert_valid_blocks(payload: dict) -> None:
    """What Slack would refuse: an unknown block, a field past its limit, a dropped key."""
    assert isinstance(payload["text"], str) and payload["text"]
    assert 0 < len(payload["blocks"]) <= 50
    for raw in payload["blocks"]:
        block = Block.parse(raw)
        assert block is not None, f"unknown block {raw}"
        block.validate_json()
        assert block.to_dict() == raw


def _slack_rule(make_rule, receivers, api, **fields):
    rule = make_rule(window_minutes=1, recipients=[], **fields)
    sink = receivers()
    answer = api.post(
        f"/api/v1/projects/shop/rules/{rule.id}/channels/",
        {"kind": "slack", "target": sink.url("/services/T000/B000/XXXX")},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    assert "secret" not in answer.json()
    return rule, sink


def test_a_slack_channel_gets_valid_blocks_with_the_rule_value_causes_clients_and_link(
    post_logs, make_rule, receivers, evaluate, api
):
    rule, sink = _slack_rule(make_rule, receivers, api)
    per_minute(post_logs, [(20, 10), (20, 0)])
    evaluate(minute(1))
    evaluate(minute(2))

    assert [p.path for p in sink.posts] == ["/services/T000/B000/XXXX"] * 2
    fired, resolved = (p.json for p in sink.posts)
    assert_valid_blocks(fired)
    assert_valid_blocks(resolved)
    incident = Incident.objects.get(rule=rule)
    text = "\n".join(_texts(fired["blocks"]))
    assert "Firing: Conflict rate above 20%" in fired["text"]
    assert "conflict rate over 1 min" in text
    assert "50.0%" in text and "20.0%" in text
    assert "`stale_version`: 10" in text
    assert "`acme-mobile`: 10" in text
    assert "`/v1/orders/1`" in text
    [button] = fired["blocks"][-1]["elements"]
    assert button["url"] == f"https://cw.example.com/p/shop/incidents/{incident.id}/"
    assert resolved["text"].startswith("Resolved: Conflict rate above 20%")


def test_hostile_paths_and_clients_arrive_escaped_for_slack(
    post_logs, make_rule, receivers, evaluate, api, shop
):
    shop.name = "Shop <@here> & co"
    shop.save()
    records = records_for(minute(0), 20, 10, tag="evil", path=HOSTILE_PATH, client=HOSTILE_CLIENT)
    assert post_logs(records).json()["accepted"] == 20
    rule, sink = _slack_rule(make_rule, receivers, api, name="<!everyone> rule & more")
    evaluate(minute(1))

    [post] = sink.posts
    payload = post.json
    assert_valid_blocks(payload)
    texts = _texts(payload["blocks"]) + [payload["text"]]
    for text in texts:
        # No raw angle bracket anywhere: no link, mention or @channel can be made from logs.
        assert "<" not in text and ">" not in text, text
    joined = "\n".join(texts)
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in joined
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined
    assert "&lt;!everyone&gt; rule &amp; more" in joined
    assert "Shop &lt;@here&gt; &amp; co" in joined
    # A backtick in a path cannot close the code span it is shown in.
    code = [t for t in joined.split("\n") if "alert(1)" in t][0]
    assert code.count("`") == 2


def test_a_deploy_before_the_incident_is_named_in_the_slack_message(
    post_logs, make_rule, receivers, evaluate, api, shop
):
    Deploy.objects.create(project=shop, version="v2.4.0", ts=minute(0), environment="prod")
    rule, sink = _slack_rule(make_rule, receivers, api)
    per_minute(post_logs, [(20, 10)])
    evaluate(minute(1))

    payload = sink.posts[0].json
    assert_valid_blocks(payload)
    context = [b for b in payload["blocks"] if b["type"] == "context"]
    assert "Deploy `v2.4.0` (prod)" in json.dumps(context)
