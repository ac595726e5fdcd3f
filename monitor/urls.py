from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from monitor import health
from monitor.views import clients, explorer, pages, resources, sources

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("ingest/", include("ingest.urls")),
    path("api/v1/", include("monitor.api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", pages.project_list, name="projects"),
    path("p/<slug:slug>/", pages.overview, name="overview"),
    path("p/<slug:slug>/", include("monitor.alerts.urls")),
    path("p/<slug:slug>/endpoints/<int:endpoint_id>/", pages.endpoint, name="endpoint"),
    path("p/<slug:slug>/requests/<int:request_id>/", pages.request_detail, name="request"),
    path("p/<slug:slug>/resource/", resources.resource, name="resource"),
    path("p/<slug:slug>/client/", clients.client, name="client"),
    path("p/<slug:slug>/requests/", explorer.explorer, name="explorer"),
    path("p/<slug:slug>/sources/new/", sources.new_source, name="new-source"),
]

# JSON under /api/, the usual page elsewhere; a database error is a 503, never a 500.
handler404 = "monitor.api.errors.not_found"
handler500 = "monitor.api.errors.server_error"
