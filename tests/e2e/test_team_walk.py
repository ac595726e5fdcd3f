"""The README's "Give a person access" walked in Chromium: the operator's first account signs
in, creates a project and a source from the UI, ships a record with the token shown once, and
gives three colleagues viewer access: by the members page (an invitation mail through a real
SMTP server, accepted in the colleague's own browser), by the API, and by `manage.py
addmember`. Each colleague signs in and sees the project, and none can change it."""

import re
from io import StringIO

import httpx
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from monitor.models import Membership
from tests.records import record


def colleague_sees_the_project(browser, live_server, sign_in, username, password):
    from tests.browser import WatchedPage

    context = browser.new_context()
    watched = WatchedPage(context.new_page(), live_server.url)
    sign_in(watched, username, password)
    page = watched.page
    page.click("#projects >> text=Shop API")
    page.wait_for_selector("h1:has-text('Shop API')")
    page.goto(live_server.url + "/p/shop-api/members/")
    assert page.locator("#add-member").count() == 0  # a viewer changes nothing
    context.close()
    assert watched.errors == [] and watched.dialogs == [] and watched.foreign == []


def test_a_person_creates_a_project_and_gives_colleagues_access(
    watched, sign_in, browser, live_server, mailbox, monkeypatch
):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "ops-pass-1234")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")
    call_command("createsuperuser", "--noinput", stdout=StringIO())
    page = watched.page
    sign_in(watched, "ops", "ops-pass-1234")

    # A project from the UI: its creator is its admin; then its first source.
    page.click("text=Create a project")
    page.fill("input[name=name]", "Shop API")
    page.fill("input[name=slug]", "shop-api")
    page.click("#new-project button[type=submit]")
    page.wait_for_url(live_server.url + "/p/shop-api/sources/")
    page.fill("#add-source input[name=name]", "edge")
    page.click("#add-source button[type=submit]")
    token = page.inner_text("#token").strip()
    assert token.startswith("cw_")
    watched.shot("team-01-token-once")
    answer = httpx.post(
        live_server.url + "/ingest/v1/logs",
        json=record(1),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    page.goto(live_server.url + "/p/shop-api/sources/")
    assert page.inner_text("#sources tbody tr >> nth=0 >> td >> nth=4") == "1"
    assert token not in page.content()

    # 1. The members page: an e-mail without an account gets an invitation.
    page.click("#project-nav >> text=Members")
    page.fill("#add-member input[name=user]", "bob@example.com")
    page.select_option("#add-member select[name=role]", "viewer")
    page.click("#add-member button[type=submit]")
    page.wait_for_selector("#messages:has-text('Invitation mailed to bob@example.com')")
    watched.shot("team-02-invited")
    [mail] = mailbox.messages
    [link] = re.findall(r"https://cw\.example\.com(/\S+)", mail.get_body(("plain",)).get_content())
    context = browser.new_context()
    bobs = context.new_page()
    bobs.goto(live_server.url + link)
    bobs.fill("input[name=username]", "bob")
    bobs.fill("input[name=password]", "bob-pass-1234")
    bobs.fill("input[name=password2]", "bob-pass-1234")
    bobs.click("button[type=submit]")
    bobs.wait_for_url(live_server.url + "/p/shop-api/")
    assert "Shop API" in bobs.inner_text("h1")
    context.close()
    colleague_sees_the_project(browser, live_server, sign_in, "bob", "bob-pass-1234")

    # 2. The API, for someone with an account.
    users = get_user_model().objects
    users.create_user("carol", "carol@example.com", "carol-pass-1234")
    key = Token.objects.create(user=users.get(username="ops")).key
    answer = httpx.post(
        live_server.url + "/api/v1/projects/shop-api/members/",
        json={"user": "carol", "role": "viewer"},
        headers={"Authorization": f"Token {key}"},
    )
    assert answer.status_code == 201, answer.text
    colleague_sees_the_project(browser, live_server, sign_in, "carol", "carol-pass-1234")

    # 3. The command.
    users.create_user("dave", "dave@example.com", "dave-pass-1234")
    out = StringIO()
    call_command("addmember", "shop-api", "dave", "--role", "viewer", stdout=out)
    assert out.getvalue().strip() == "dave is now viewer of shop-api"
    colleague_sees_the_project(browser, live_server, sign_in, "dave", "dave-pass-1234")

    roles = dict(Membership.objects.values_list("user__username", "role"))
    assert roles == {"ops": "admin", "bob": "viewer", "carol": "viewer", "dave": "viewer"}
    page.goto(live_server.url + "/p/shop-api/members/")
    watched.shot("team-03-members")
    assert page.locator("#members tbody tr").count() == 4
