from django.urls import path

from ingest import otlp_views, views

urlpatterns = [
    path("v1/logs", views.logs, name="ingest-logs"),
    path("otlp/v1/traces", otlp_views.traces, name="ingest-otlp-traces"),
    path("otlp/v1/logs", otlp_views.logs, name="ingest-otlp-logs"),
]
