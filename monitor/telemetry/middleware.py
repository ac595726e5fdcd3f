"""Counts every answer of the ingest endpoints (/ingest/…) by its HTTP status, whatever door
(logs, OTLP, Firehose) and whatever refused it (token, size, backlog, database)."""

from monitor.telemetry.counters import count_answer

INGEST_PREFIX = "/ingest/"


class IngestAnswersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(INGEST_PREFIX):
            count_answer(response.status_code)
        return response
