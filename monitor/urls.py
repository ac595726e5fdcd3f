from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from monitor.ops import health
from monitor.telemetry import views as telemetry
from monitor.views import (
    accounts,
    clients,
    explorer,
    members,
    pages,
    project_settings,
    projects,
    resources,
    routes,
    sources,
    tail,
)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("metrics", telemetry.metrics, name="metrics"),
    path("ingest/", include("ingest.urls")),
    path("api/v1/", include("monitor.api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/invitation/<str:token>/", accounts.accept_invitation, name="accept-invitation"),
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", pages.project_list, name="projects"),
    path("projects/new/", projects.new_project, name="new-project"),
    path("p/<slug:slug>/", pages.overview, name="overview"),
    path("p/<slug:slug>/", include("monitor.alerts.urls")),
    path("p/<slug:slug>/endpoints/<int:endpoint_id>/", pages.endpoint, name="endpoint"),
    path("p/<slug:slug>/requests/<int:request_id>/", pages.request_detail, name="request"),
    path("p/<slug:slug>/resource/", resources.resource, name="resource"),
    path("p/<slug:slug>/client/", clients.client, name="client"),
    path("p/<slug:slug>/requests/", explorer.explorer, name="explorer"),
    path("p/<slug:slug>/sources/", sources.sources, name="sources"),
    path("p/<slug:slug>/sources/new/", sources.new_source, name="new-source"),
    path("p/<slug:slug>/sources/<int:source_id>/rotate/", sources.rotate, name="source-rotate"),
    path("p/<slug:slug>/sources/<int:source_id>/revoke/", sources.revoke, name="source-revoke"),
    path("p/<slug:slug>/members/", members.members, name="members"),
    path("p/<slug:slug>/members/<int:member_id>/", members.member, name="member"),
    path("p/<slug:slug>/members/<int:member_id>/remove/", members.remove, name="member-remove"),
    path(
        "p/<slug:slug>/invitations/<int:invitation_id>/resend/",
        members.resend_invitation,
        name="invitation-resend",
    ),
    path(
        "p/<slug:slug>/invitations/<int:invitation_id>/cancel/",
        members.cancel_invitation,
        name="invitation-cancel",
    ),
    path("p/<slug:slug>/tail/", tail.tail, name="tail"),
    path("p/<slug:slug>/tail/rows/", tail.tail_rows, name="tail-rows"),
    path("p/<slug:slug>/settings/", project_settings.settings_page, name="project-settings"),
    path("p/<slug:slug>/routes/", routes.routes_page, name="routes"),
    path("p/<slug:slug>/routes/import/", routes.import_openapi, name="routes-import"),
    path("p/<slug:slug>/routes/declare/", routes.declare, name="routes-declare"),
    path("p/<slug:slug>/routes/undeclare/", routes.undeclare, name="routes-undeclare"),
    path("p/<slug:slug>/routes/<int:rule_id>/remove/", routes.remove_rule, name="routes-remove"),
]

# JSON under /api/, the usual page elsewhere; a database error is a 503, never a 500.
handler404 = "monitor.api.errors.not_found"
handler500 = "monitor.api.errors.server_error"
