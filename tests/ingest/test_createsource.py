"""manage.py createsource: a project (made if needed) and a source, its token on the last line;
a name the database could not hold is a clear error, never a traceback."""

import io

import pytest
from django.core.management import CommandError, call_command

from ingest.auth import source_for_token
from ingest.models import Source
from monitor.models import Project


def createsource(*args) -> str:
    out = io.StringIO()
    call_command("createsource", *args, stdout=out)
    return out.getvalue()


def test_it_makes_the_project_and_prints_the_token_last(db):
    token = createsource("Shop API", "kong-prod", "--format", "kong").splitlines()[-1]
    source = source_for_token(token)
    assert (source.project.slug, source.name, source.format) == ("shop-api", "kong-prod", "kong")


@pytest.mark.parametrize("name", ["", "   "])
def test_a_blank_source_name_is_refused(db, name):
    with pytest.raises(CommandError, match="source name: empty"):
        createsource("shop", name)
    assert not Source.objects.exists()


def test_a_source_name_longer_than_the_column_is_refused(db):
    with pytest.raises(CommandError, match="source name: 101 characters, at most 100"):
        createsource("shop", "g" * 101)
    assert not Project.objects.exists()


def test_a_project_slug_longer_than_the_column_is_refused(db):
    with pytest.raises(CommandError, match="project slug: 65 characters, at most 64"):
        createsource("p" * 65, "gateway")


def test_a_source_name_is_kept_without_surrounding_spaces(db):
    createsource("shop", "  gateway ")
    assert Source.objects.get().name == "gateway"
