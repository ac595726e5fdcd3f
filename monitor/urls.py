from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from monitor import health
from monitor.views import clients, explorer, pages, project_settings, resources, routes, sources

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
    path("p/<slug:slug>/settings/", project_settings.settings_page, name="project-settings"),
    path("p/<slug:slug>/routes/", routes.routes_page, name="routes"),
    path("p/<slug:slug>/routes/import/", routes.import_openapi, name="routes-import"),
    path("p/<slug:slug>/routes/declare/", routes.declare, name="routes-declare"),
    path("p/<slug:slug>/routes/undeclare/", routes.undeclare, name="routes-undeclare"),
    path("p/<slug:slug>/routes/<int:rule_id>/remove/", routes.remove_rule, name="routes-remove"),
]

# JSON under /api/, the usual page elsewhere.
handler404 = "monitor.api.errors.not_found"
