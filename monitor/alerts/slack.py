"""A Slack incoming-webhook payload (Block Kit) built from a message's facts
(monitor/alerts/content.py): the rule, the value, the top causes, clients and resources, the
deploy before it, and a button to the incident.

Everything from logs or users is text to Slack, never markup: `&`, `<` and `>` become `&amp;`,
`&lt;` and `&gt;` (Slack's own escaping, so that no path can make a link or an @channel), code
spans lose their backticks, and every piece is cut to fit Block Kit's limits.
"""

from datetime import datetime

# Block Kit limits: header text 150, section text 3000, a field 2000, a button's URL 3000.
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
ITEM_MAX = 200
EMOJI = {"opened": "🔴", "reminder": "🟠", "resolved": "✅", "test": "🔔"}


def escape(text: object) -> str:
    """Text as Slack shows it literally: &, < and > as entities."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(text: object) -> str:
    """Attacker text in a code span: cut, escaped, and unable to close the span."""
    return "`" + escape(_cut(str(text), ITEM_MAX).replace("`", "ˋ")) + "`"


def _when(iso: str | None) -> str:
    if not iso:
        return "–"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_MAX)}}


def _list(title: str, lines: list[str]) -> dict:
    return _section(f"*{title}*\n" + ("\n".join(f"• {line}" for line in lines) or "none"))


def message(facts: dict) -> dict:
    """The JSON body of a Slack incoming webhook for one message."""
    rule = facts["rule"]
    incident = facts["incident"]
    summary = escape(facts["summary"])
    title = f"{EMOJI.get(facts['event'], '')} {facts['summary']}".strip()
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(escape(title), HEADER_MAX)}},
    ]
    fields = [
        f"*Project*\n{escape(facts['project']['name'])}",
        f"*Scope*\n{escape(rule['scope'])}",
        f"*Metric*\n{escape(rule['metric_name'])} over {rule['window_minutes']} min",
        f"*Threshold*\n{escape(rule['threshold_text'])}",
    ]
    if incident is not None:
        fields += [
            f"*Opened*\n{_when(incident['opened_at'])}",
            f"*Value*\n{escape(incident['value_text'])} (now {escape(incident['last_text'])})",
        ]
        if incident["resolved_at"]:
            fields.append(f"*Resolved*\n{_when(incident['resolved_at'])}")
        if incident["no_data_since"]:
            fields.append(f"*No data since*\n{_when(incident['no_data_since'])}")
    elif "current" in facts:
        fields.append(f"*Now*\n{escape(facts['current']['value_text'])}")
    blocks.append(
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _cut(f, FIELD_MAX)} for f in fields[:10]],
        }
    )
    if "last_record_at" in facts:
        blocks.append(_section(f"*Last record received*\n{_when(facts['last_record_at'])}"))
    if "causes" in facts:
        blocks.append(
            _list("Top causes", [f"{_code(c['cause'])}: {c['conflicts']}" for c in facts["causes"]])
        )
        blocks.append(
            _list(
                "Clients with most conflicts",
                [f"{_code(c['client'])}: {c['conflicts']}" for c in facts["clients"]],
            )
        )
        blocks.append(
            _list(
                "Most conflicted resources",
                [f"{_code(r['resource'])}: {r['conflicts']}" for r in facts["resources"]],
            )
        )
    deploy = facts.get("deploy")
    if deploy:
        env = f" ({escape(deploy['environment'])})" if deploy.get("environment") else ""
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": _cut(
                            f"Deploy {_code(deploy['version'])}{env} at {_when(deploy['ts'])} "
                            "preceded this incident",
                            SECTION_MAX,
                        ),
                    }
                ],
            }
        )
    link = facts["links"].get("incident") or facts["links"]["rule"]
    label = "Open the incident" if "incident" in facts["links"] else "Open the rule"
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": label},
                    "url": link,
                    "action_id": "open",
                }
            ],
        }
    )
    return {"text": _cut(summary, SECTION_MAX), "blocks": blocks}
