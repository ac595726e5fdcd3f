"""Which reads the replica router sends to DATABASE_REPLICA_URL (tests/stack/test_replica.py
runs it against a real streaming replica)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from ingest.models import IngestBatch, Request
from monitor.alerts.models import AlertRule
from monitor.models import ClientRollup, LatencyDayRollup, Project, StatusRollup
from monitor.ops import routers

router = routers.ReplicaRouter()


def read_during(method: str, path: str, model, response=None) -> str | None:
    """The database the router picks for `model` while a request is answered."""
    seen = []

    def view(request):
        seen.append(router.db_for_read(model))
        return response or HttpResponse()

    routers.ReplicaReadsMiddleware(view)(RequestFactory().generic(method, path))
    return seen[0]


@pytest.mark.parametrize("model", [Request, StatusRollup, LatencyDayRollup, ClientRollup])
def test_page_and_api_reads_of_shipped_data_go_to_the_replica(model):
    assert read_during("GET", "/p/shop/", model) == "replica"
    assert read_during("HEAD", "/api/v1/projects/shop/summary/", model) == "replica"


@pytest.mark.parametrize("model", [Project, get_user_model(), Session, AlertRule, IngestBatch])
def test_users_sessions_settings_and_batches_are_read_on_the_primary(model):
    assert read_during("GET", "/p/shop/", model) is None


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/ingest/v1/logs", "/admin/"])
def test_health_metrics_ingest_and_admin_never_read_the_replica(path):
    assert read_during("GET", path, Request) is None


def test_writes_and_the_reads_around_them_stay_on_the_primary():
    assert read_during("POST", "/api/v1/projects/shop/rules/", Request) is None
    assert router.db_for_write(Request) == "default"
    # Outside a request (workers, beat, commands) nothing reads the replica.
    assert router.db_for_read(Request) is None


@pytest.mark.django_db(transaction=True)
def test_a_read_inside_a_transaction_on_the_primary_stays_there():
    seen = []

    def view(request):
        with transaction.atomic():
            seen.append(router.db_for_read(Request))
        seen.append(router.db_for_read(Request))
        return HttpResponse()

    routers.ReplicaReadsMiddleware(view)(RequestFactory().get("/p/shop/"))
    assert seen == [None, "replica"]


def test_a_streamed_answer_reads_the_replica_while_it_streams():
    seen = []

    def chunks():
        seen.append(router.db_for_read(Request))
        yield b"id\n"

    response = StreamingHttpResponse(chunks())
    routers.ReplicaReadsMiddleware(lambda request: response)(RequestFactory().get("/x.csv"))
    assert b"".join(response.streaming_content) == b"id\n"
    assert seen == ["replica"]
    assert router.db_for_read(Request) is None  # and not after it


def test_the_replica_is_never_migrated():
    assert router.allow_migrate("replica", "ingest") is False
    assert router.allow_migrate("default", "ingest") is True
