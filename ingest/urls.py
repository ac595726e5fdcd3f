from django.urls import path

from ingest import views

urlpatterns = [
    path("v1/logs", views.logs, name="ingest-logs"),
]
