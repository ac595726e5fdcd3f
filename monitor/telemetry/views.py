"""GET /metrics: Prometheus text format, behind a bearer token when CONFLICTWATCH_METRICS_TOKEN
is set. Counters come from this process (or, under gunicorn, from every worker's files in
PROMETHEUS_MULTIPROC_DIR); gauges from the database at scrape time."""

import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from monitor.telemetry import counters  # noqa: F401 - the counters exist before the first scrape
from monitor.telemetry.collector import DatabaseCollector


class _ThisProcess(Collector):
    """The default registry's metrics (this process's counters, process and platform)."""

    def collect(self):
        yield from REGISTRY.collect()


def _authorized(request: HttpRequest) -> bool:
    token = settings.CONFLICTWATCH_METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and constant_time_compare(given.strip(), token)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("metrics: send Authorization: Bearer <token>\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
