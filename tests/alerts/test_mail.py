"""What the mail says, and that attacker text can neither break a header nor inject markup."""

from monitor.alerts.models import AlertRule, Incident
from tests.alerts.conftest import minute, per_minute, records_for

HOSTILE_PATH = "/v1/orders/1\r\nBcc: victim@example.net\r\n<script>alert(1)</script>"
HOSTILE_CLIENT = '<img src=x onerror="alert(2)">'


def _parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_the_firing_mail_tells_value_threshold_causes_offenders_resources_and_links(
    post_logs, make_rule, mailbox, evaluate
):
    make_rule(window_minutes=5)
    per_minute(post_logs, [(20, 1)] * 5 + [(20, 10)] * 5)
    evaluate(minute(8))

    [message] = mailbox.messages
    text, html = _parts(message)
    assert message["From"] == "conflictwatch@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "conflict rate 32.0% is above 20.0%" in text
    assert "stale_version: 32" in text
    assert "acme-mobile: 32" in text
    assert "/v1/orders/1:" in text
    assert "https://cw.example.com/p/shop/incidents/?rule=" in text
    assert "https://cw.example.com/p/shop/" in text
    # A sparkline of the last hour, one character per minute, rising at the end.
    spark = [line for line in text.splitlines() if line and set(line) <= set(" ▁▂▃▄▅▆▇█")][0]
    assert len(spark) == 60 and spark.endswith("█")
    assert "<strong>32.0%</strong>" in html
    assert 'href="https://cw.example.com/p/shop/incidents/?rule=' in html


def test_the_resolved_mail_threads_under_the_firing_mail(post_logs, make_rule, mailbox, evaluate):
    make_rule(window_minutes=1)
    per_minute(post_logs, [(20, 10), (20, 0)])
    evaluate(minute(1))
    evaluate(minute(2))

    fired, resolved = mailbox.messages
    assert resolved["In-Reply-To"] == fired["Message-ID"]
    assert "RESOLVED" in _parts(resolved)[0]


def test_a_path_and_client_with_crlf_and_markup_leave_headers_intact_and_html_escaped(
    post_logs, make_rule, mailbox, evaluate, shop
):
    shop.name = "Shop <b>API</b>\r\nX-Injected: yes"
    shop.save()
    response = post_logs(
        records_for(minute(0), 20, 10, tag="evil", path=HOSTILE_PATH, client=HOSTILE_CLIENT)
    )
    assert response.json()["accepted"] == 20
    make_rule(window_minutes=1)
    # A rule name with a line break that bypassed validation (older data, a direct SQL edit).
    AlertRule.objects.filter(project=shop).update(name="Evil\r\nBcc: victim@example.net")
    # Scope the rule to the hostile endpoint so that its route is in the subject too.
    rule = AlertRule.objects.get(project=shop, enabled=True)
    rule.endpoint = shop.endpoints.get(method="PUT")
    rule.save()

    evaluate(minute(1))

    [envelope] = mailbox.envelopes
    assert envelope.rcpt_tos == ["ops@example.com"]
    [message] = mailbox.messages
    assert message.defects == []
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert len(message.get_all("Subject")) == 1
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject
    assert "Evil Bcc: victim@example.net" in subject
    assert "<script>" in subject  # plain text in a header is harmless once it is one line
    text, html = _parts(message)
    assert "<script>" not in html and "<img" not in html and "<b>API</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    assert HOSTILE_CLIENT in text


def test_the_test_mail_names_the_rule_and_the_current_value(post_logs, make_rule, mailbox):
    from monitor.alerts.actions import send_test

    rule = make_rule()
    notification = send_test(rule)

    assert notification.state == "sent"
    [message] = mailbox.messages
    assert str(message["Subject"]) == "[Shop API] Test: Conflict rate above 20%"
    assert "Mail from ConflictWatch reaches you" in _parts(message)[0]
    assert Incident.objects.count() == 0


def _raw_header_lines(envelope, name: bytes) -> list[bytes]:
    """The raw lines of a header as sent: its first line and any folded continuation."""
    lines = (
        envelope.content.split(b"\r\n")
        if b"\r\n" in envelope.content
        else (envelope.content.split(b"\n"))
    )
    start = next(i for i, line in enumerate(lines) if line.lower().startswith(name.lower() + b":"))
    end = start + 1
    while lines[end][:1] in (b" ", b"\t"):
        end += 1
    return lines[start:end]


def test_the_subject_is_one_line_and_the_mail_links_to_the_incident(
    post_logs, make_rule, mailbox, evaluate, shop
):
    endpoint_rule = make_rule(
        name="Checkout conflict rate above twenty percent for the mobile apps", window_minutes=1
    )
    per_minute(post_logs, [(20, 10)])
    endpoint_rule.endpoint = shop.endpoints.get(method="PUT")
    endpoint_rule.save()
    evaluate(minute(1))

    [envelope] = mailbox.envelopes
    [subject] = _raw_header_lines(envelope, b"Subject")
    assert subject == (
        b"Subject: [Shop API] Firing: Checkout conflict rate above twenty percent for the mobile "
        b"apps - conflict rate 100.0% > 20.0% (PUT /v1/orders/{id})"
    )
    incident = Incident.objects.get()
    text, html = _parts(mailbox.messages[0])
    link = f"https://cw.example.com/p/shop/incidents/{incident.id}/"
    assert f"Incident:  {link}" in text
    assert f'<a href="{link}">This incident</a>' in html


def test_a_long_subject_is_cut_on_one_line(post_logs, make_rule, mailbox, evaluate):
    make_rule(name="x" * 200, window_minutes=1)
    per_minute(post_logs, [(20, 10)])
    evaluate(minute(1))

    [subject] = _raw_header_lines(mailbox.envelopes[0], b"Subject")
    assert subject.endswith(b"...") and len(subject) == len("Subject: ") + 180
