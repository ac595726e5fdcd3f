"""Invitations by e-mail through a real SMTP server: the mailed link leads to a working
account and membership; an expired, reused, cancelled, superseded or altered link does not.
Sign-up without an invitation only when opened; password reset by mail and password change."""

import re

from django.contrib.auth import get_user_model
from django.test import Client

from monitor.models import Invitation, Membership

INVITATIONS = "/api/v1/projects/shop/invitations/"


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    [link] = re.findall(r"https://cw\.example\.com/\S+", text)
    return link.removeprefix("https://cw.example.com")


def invite(api, email="dora@example.com", role="viewer"):
    answer = api.post(INVITATIONS, {"email": email, "role": role}, "application/json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def sign_up(path: str, username="dora", password="a-long-secret-9"):
    client = Client()
    answer = client.post(path, {"username": username, "password": password, "password2": password})
    return client, answer


def test_an_invitation_mail_leads_to_a_working_account(api, mailbox):
    invite(api)
    [mail] = mailbox.messages
    assert mail["To"] == "dora@example.com"
    assert str(mail["Subject"]) == "You are invited to Shop API on ConflictWatch"
    path = link_in(mail)
    page = Client().get(path)
    assert page.status_code == 200 and "Join Shop API" in page.content.decode()
    client, answer = sign_up(path)
    assert answer.status_code == 302 and answer["Location"] == "/p/shop/"
    assert client.get("/p/shop/").status_code == 200
    dora = get_user_model().objects.get(username="dora")
    assert dora.email == "dora@example.com"
    assert Membership.objects.get(user=dora).role == "viewer"
    # The account works for a fresh sign-in too.
    fresh = Client()
    answer = fresh.post("/accounts/login/", {"username": "dora", "password": "a-long-secret-9"})
    assert answer.status_code == 302
    assert Invitation.objects.get().accepted_by == dora


def test_a_used_link_does_not_work_again(api, mailbox):
    invite(api)
    path = link_in(mailbox.messages[0])
    sign_up(path)
    again = Client().get(path)
    assert again.status_code == 400 and "used already" in again.content.decode()
    _, answer = sign_up(path, username="mallory")
    assert answer.status_code == 400
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_an_expired_link_does_not_work(api, mailbox, settings):
    invite(api)
    path = link_in(mailbox.messages[0])
    settings.CONFLICTWATCH_INVITATION_DAYS = 0  # every link is older than its lifetime now
    _, answer = sign_up(path)
    assert answer.status_code == 400 and "expired" in answer.content.decode()
    assert not get_user_model().objects.filter(username="dora").exists()


def test_a_cancelled_superseded_or_altered_link_does_not_work(api, mailbox):
    invited = invite(api)
    first = link_in(mailbox.messages[0])
    invite(api, role="admin")  # the same address again: a new link, the old one stops
    second = link_in(mailbox.messages[1])
    assert "newer invitation" in Client().get(first).content.decode()
    assert Client().get(second[:-3] + "xyz/").status_code == 400
    assert api.delete(f"{INVITATIONS}{invited['id']}/").status_code == 204
    assert "cancelled" in Client().get(second).content.decode()


def test_an_existing_account_accepts_an_invitation(api, mailbox, charlie):
    invite(api, email="charlie@example.com", role="admin")
    path = link_in(mailbox.messages[0])
    client = Client()
    client.force_login(charlie)
    assert "Join as charlie" in client.get(path).content.decode()
    answer = client.post(path)
    assert answer.status_code == 302
    assert Membership.objects.get(user=charlie, project__slug="shop").role == "admin"


def test_a_weak_password_or_taken_username_is_explained(api, mailbox, bob):
    invite(api)
    path = link_in(mailbox.messages[0])
    _, answer = sign_up(path, password="short")
    assert (
        answer.status_code == 400
        and "password: This password is too short" in answer.content.decode()
    )
    _, answer = sign_up(path, username="bob")
    assert (
        answer.status_code == 400
        and "username: &#x27;bob&#x27; is taken" in answer.content.decode()
    )
    assert Invitation.objects.get().accepted_at is None


def test_a_project_name_cannot_add_a_mail_header(api, mailbox, shop):
    shop.name = "Shop\r\nBcc: evil@example.com <b>x</b>"
    shop.save()
    invite(api)
    [mail] = mailbox.messages
    assert mail["Bcc"] is None
    assert [r for e in mailbox.envelopes for r in e.rcpt_tos] == ["dora@example.com"]
    html = mail.get_body(("html",)).get_content()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_a_viewer_cannot_invite(mailbox, bob):
    from tests.api.conftest import token_client

    answer = token_client(bob).post(INVITATIONS, {"email": "x@example.com"}, "application/json")
    assert answer.status_code == 403
    assert mailbox.messages == [] and not Invitation.objects.exists()


def test_sign_up_is_by_invitation_unless_opened(db, settings):
    page = Client().get("/accounts/signup/")
    assert page.status_code == 403 and "by invitation" in page.content.decode()
    body = {"username": "eve", "email": "eve@example.com", "password": "a-long-secret-9"}
    assert (
        Client().post("/accounts/signup/", {**body, "password2": body["password"]}).status_code
        == 403
    )
    assert not get_user_model().objects.filter(username="eve").exists()
    settings.CONFLICTWATCH_OPEN_SIGNUP = True
    client = Client()
    answer = client.post("/accounts/signup/", {**body, "password2": body["password"]})
    assert answer.status_code == 302
    assert "Create a project" in client.get("/").content.decode()


def test_password_reset_by_mail_sets_a_new_password_once(alice, mailbox):
    client = Client()
    answer = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert answer.status_code == 302
    [mail] = mailbox.messages
    path = link_in(mail)
    form = client.get(path, follow=True)
    assert "New password" in form.content.decode()
    answer = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand-new-pass-7", "new_password2": "brand-new-pass-7"},
    )
    assert answer.status_code == 302
    assert (
        Client()
        .post("/accounts/login/", {"username": "alice", "password": "brand-new-pass-7"})
        .status_code
        == 302
    )
    assert "not valid any more" in Client().get(path, follow=True).content.decode()


def test_password_reset_of_an_unknown_address_mails_nobody(db, mailbox):
    answer = Client().post("/accounts/password/reset/", {"email": "who@example.com"})
    assert answer.status_code == 302 and mailbox.messages == []


def test_a_user_changes_their_own_password(alice):
    client = Client()
    client.force_login(alice)
    wrong = client.post(
        "/accounts/password/change/",
        {
            "old_password": "nope",
            "new_password1": "another-pass-55",
            "new_password2": "another-pass-55",
        },
    )
    assert wrong.status_code == 200 and "incorrect" in wrong.content.decode()
    answer = client.post(
        "/accounts/password/change/",
        {
            "old_password": "pw-alice",
            "new_password1": "another-pass-55",
            "new_password2": "another-pass-55",
        },
    )
    assert answer.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-pass-55")
