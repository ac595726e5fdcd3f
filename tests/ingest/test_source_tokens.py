"""The source a token names, read in one plain statement: the same source and project, every
field as the ORM would give it, or None for an unknown or revoked token."""

from django.utils import timezone

from ingest.auth import source_for_token
from ingest.models import Source
from ingest.sources import create_source
from monitor.models import Project


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_token_gives_its_source_and_project_as_the_orm_does(shop):
    shop.extra_headers = ["X-Tenant"]
    shop.secret_headers = ["x-session"]
    shop.conflict_phrases = {"duplicate": ["already exists"]}
    shop.version_headers = ["x-version"]
    shop.save()
    _, token = create_source(shop.slug, "gateway", "kong")
    source_for_token(token)  # the first use sets last_used_at

    found = source_for_token(token)

    expected = Source.objects.select_related("project").get(name="gateway")
    assert _fields(found) == _fields(expected)
    assert _fields(found.project) == _fields(expected.project)
    assert found.project.conflict_phrases == {"duplicate": ["already exists"]}
    assert found.last_used_at is not None and found.last_used_at.tzinfo is not None
    # Saved like any instance the ORM read: an update, not a second row.
    found.name = "edge"
    found.save()
    assert list(Source.objects.values_list("name", flat=True)) == ["edge"]
    assert Project.objects.count() == 1


def test_unknown_revoked_and_oversized_tokens_name_no_source(shop):
    source, token = create_source(shop.slug, "gateway")
    assert source_for_token(token + "x") is None
    assert source_for_token("") is None
    assert source_for_token("x" * 201) is None
    source.revoked_at = timezone.now()
    source.save()
    assert source_for_token(token) is None
