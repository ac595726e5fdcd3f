"""Members of a project through the API, the members page and `manage.py addmember`: add by
username or e-mail, change role, remove; a project keeps one admin; viewers read only."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitor.models import Invitation, Membership
from tests.api.conftest import token_client

MEMBERS = "/api/v1/projects/shop/members/"


def roles(project_slug="shop") -> dict[str, str]:
    return dict(
        Membership.objects.filter(project__slug=project_slug).values_list("user__username", "role")
    )


def test_an_admin_adds_a_colleague_by_username_as_viewer(api, charlie):
    answer = api.post(MEMBERS, {"user": "charlie", "role": "viewer"}, "application/json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["user"] == "charlie" and answer.json()["role"] == "viewer"
    assert roles()["charlie"] == "viewer"
    listed = api.get(MEMBERS).json()
    assert [m["user"] for m in listed] == ["alice", "charlie"]  # admins first
    assert token_client(charlie).get("/api/v1/projects/shop/summary/").status_code == 200


def test_an_admin_adds_a_colleague_by_e_mail_in_any_case(api, charlie):
    answer = api.post(MEMBERS, {"user": "Charlie@Example.com", "role": "admin"}, "application/json")
    assert answer.status_code == 201
    assert roles()["charlie"] == "admin"


@pytest.mark.parametrize(
    ("body", "start"),
    [
        ({"user": "nobody", "role": "viewer"}, "user: no account"),
        ({"user": "new@example.com", "role": "viewer"}, "user: no account"),
        ({"user": "charlie", "role": "owner"}, "role:"),
        ({"role": "viewer"}, "user:"),
    ],
)
def test_a_bad_member_is_a_400_naming_the_field(api, charlie, body, start):
    answer = api.post(MEMBERS, body, "application/json")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(start), answer.json()


def test_adding_a_member_again_changes_the_role(api, bob):
    answer = api.post(MEMBERS, {"user": "bob", "role": "admin"}, "application/json")
    assert answer.status_code == 200
    assert roles()["bob"] == "admin"


def test_an_admin_changes_a_role_and_removes_a_member(api, bob):
    member = Membership.objects.get(user=bob)
    answer = api.patch(f"{MEMBERS}{member.id}/", {"role": "admin"}, "application/json")
    assert answer.status_code == 200 and answer.json()["role"] == "admin"
    assert api.delete(f"{MEMBERS}{member.id}/").status_code == 204
    assert "bob" not in roles()
    assert token_client(bob).get("/api/v1/projects/shop/").status_code == 404


def test_the_last_admin_can_be_neither_demoted_nor_removed(api, alice, bob):
    mine = Membership.objects.get(user=alice)
    answer = api.patch(f"{MEMBERS}{mine.id}/", {"role": "viewer"}, "application/json")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("role: a project keeps at least one admin")
    assert api.delete(f"{MEMBERS}{mine.id}/").status_code == 400
    assert roles()["alice"] == "admin"
    # With a second admin, the first may step down.
    Membership.objects.filter(user=bob).update(role="admin")
    assert (
        api.patch(f"{MEMBERS}{mine.id}/", {"role": "viewer"}, "application/json").status_code == 200
    )


def test_a_viewer_reads_members_and_changes_nothing(bob, alice, charlie):
    api_bob = token_client(bob)
    listed = api_bob.get(MEMBERS)
    assert listed.status_code == 200 and {m["user"] for m in listed.json()} == {"alice", "bob"}
    assert (
        api_bob.post(MEMBERS, {"user": "charlie", "role": "viewer"}, "application/json").status_code
        == 403
    )
    alices = Membership.objects.get(user=alice)
    assert (
        api_bob.patch(f"{MEMBERS}{alices.id}/", {"role": "viewer"}, "application/json").status_code
        == 403
    )
    assert api_bob.delete(f"{MEMBERS}{alices.id}/").status_code == 403
    assert roles() == {"alice": "admin", "bob": "viewer"}


def test_members_of_another_project_are_404(api, charlie):
    other = Membership.objects.get(user=charlie)
    assert api.get(f"{MEMBERS}{other.id}/").status_code == 404
    assert (
        api.patch(f"{MEMBERS}{other.id}/", {"role": "admin"}, "application/json").status_code == 404
    )
    assert api.get("/api/v1/projects/other/members/").status_code == 404


def test_the_members_page_adds_changes_and_removes(client, alice, charlie):
    client.force_login(alice)
    page = client.get("/p/shop/members/")
    assert page.status_code == 200 and 'id="add-member"' in page.content.decode()
    answer = client.post("/p/shop/members/", {"user": "charlie", "role": "viewer"}, follow=True)
    assert "charlie is now viewer of this project." in answer.content.decode()
    member = Membership.objects.get(user=charlie, project__slug="shop")
    client.post(f"/p/shop/members/{member.id}/", {"role": "admin"})
    assert roles()["charlie"] == "admin"
    client.post(f"/p/shop/members/{member.id}/remove/")
    assert "charlie" not in roles()


def test_the_members_page_explains_a_refusal(client, alice):
    client.force_login(alice)
    answer = client.post("/p/shop/members/", {"user": "nobody", "role": "viewer"}, follow=True)
    assert "user: nobody is called &#x27;nobody&#x27;" in answer.content.decode()
    mine = Membership.objects.get(user=alice)
    answer = client.post(f"/p/shop/members/{mine.id}/remove/", follow=True)
    assert "a project keeps at least one admin" in answer.content.decode()


def test_a_viewer_sees_the_members_page_without_forms_and_cannot_post(client, alice, bob, charlie):
    client.force_login(bob)
    page = client.get("/p/shop/members/").content.decode()
    assert (
        "alice" in page and 'id="add-member"' not in page and "<form" not in page.split("<main")[1]
    )
    assert client.post("/p/shop/members/", {"user": "charlie", "role": "admin"}).status_code == 403
    assert "charlie" not in roles()


@pytest.mark.parametrize(
    "page", ["sources", "members", "routes", "settings", "alerts", "incidents"]
)
def test_the_project_nav_links_every_section_and_settings_for_admins_only(client, alice, bob, page):
    settings_link = 'href="/p/shop/settings/"'
    client.force_login(alice)
    html = client.get(f"/p/shop/{page}/").content.decode()
    nav = html.split('id="project-nav"')[1].split("</p>")[0]
    for section in ("requests", "tail", "alerts", "incidents", "sources", "members", "routes"):
        assert f'href="/p/shop/{section}/"' in nav, section
    assert settings_link in nav
    if page != "settings":
        client.force_login(bob)
        assert settings_link not in client.get(f"/p/shop/{page}/").content.decode()


def test_addmember_gives_access_by_username_and_changes_a_role(alice, charlie):
    out = StringIO()
    call_command("addmember", "shop", "charlie", stdout=out)
    assert out.getvalue().strip() == "charlie is now viewer of shop"
    call_command("addmember", "shop", "charlie@example.com", "--role", "admin", stdout=StringIO())
    assert roles()["charlie"] == "admin"


def test_addmember_invites_an_unknown_e_mail_and_prints_the_link(alice, mailbox):
    out = StringIO()
    call_command("addmember", "shop", "dora@example.com", stdout=out)
    link = out.getvalue().strip().splitlines()[-1]
    assert link.startswith("https://cw.example.com/accounts/invitation/")
    assert Invitation.objects.get().email == "dora@example.com"
    [mail] = mailbox.messages
    assert link in mail.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "alice"], "no project 'nope'"),
        (["shop", "nobody"], "no user 'nobody'"),
    ],
)
def test_addmember_says_what_is_wrong(alice, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("addmember", *args)


def test_a_project_created_from_the_ui_makes_its_creator_admin(client, charlie):
    client.force_login(charlie)
    answer = client.post("/projects/new/", {"name": "Billing API", "slug": ""})
    assert answer.status_code == 302 and answer["Location"] == "/p/billing-api/sources/"
    assert roles("billing-api") == {"charlie": "admin"}
    again = client.post("/projects/new/", {"name": "Billing API"})
    assert again.status_code == 400 and "exists already" in again.content.decode()
    assert client.post("/projects/new/", {"name": ""}).status_code == 400
