"""The Django admin serves operators: projects, members, invitations, sources (never their
token hashes), alert rules, incidents and sign-in locks each have a working page."""

import pytest
from django.test import Client

from ingest.models import Source


@pytest.mark.parametrize(
    "path",
    [
        "/admin/monitor/project/",
        "/admin/monitor/membership/",
        "/admin/monitor/invitation/",
        "/admin/ingest/source/",
        "/admin/alerts/alertrule/",
        "/admin/alerts/incident/",
        "/admin/axes/accessattempt/",
    ],
)
def test_every_operator_page_answers(root, alice, token, path):
    client = Client()
    client.force_login(root)
    assert client.get(path).status_code == 200


def test_a_source_shows_no_token_hash(root, token):
    client = Client()
    client.force_login(root)
    source = Source.objects.get()
    page = client.get(f"/admin/ingest/source/{source.id}/change/").content.decode()
    assert source.token_hint in page and source.token_hash not in page
    assert client.get("/admin/ingest/source/add/").status_code == 403


def test_a_project_admin_who_is_not_staff_has_no_admin(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/admin/monitor/project/").status_code == 302
