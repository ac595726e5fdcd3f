from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from monitor.api import (
    conflict_views,
    deploys,
    export,
    members,
    routes,
    settings_views,
    sources,
    views,
)

project = "projects/<slug:slug>/"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", views.SwaggerUI.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", views.ReDoc.as_view(url_name="api-schema"), name="api-redoc"),
    path("projects/", views.ProjectList.as_view(), name="api-projects"),
    path(project, settings_views.ProjectDetail.as_view(), name="api-project"),
    path(project + "routes/", routes.RouteList.as_view(), name="api-routes"),
    path(project + "routes/import/", routes.RouteImport.as_view(), name="api-routes-import"),
    path(project + "routes/test/", routes.RouteTest.as_view(), name="api-routes-test"),
    path(project + "routes/<int:pk>/", routes.RouteDetail.as_view(), name="api-route"),
    path(project + "timeseries/", views.Timeseries.as_view(), name="api-timeseries"),
    path(project + "export/requests.csv", export.RequestsCSV.as_view(), name="api-export-requests"),
    path(project + "sources/", sources.SourceList.as_view(), name="api-sources"),
    path(project + "sources/<int:pk>/", sources.SourceDetail.as_view(), name="api-source"),
    path(
        project + "sources/<int:pk>/rotate/",
        sources.SourceRotate.as_view(),
        name="api-source-rotate",
    ),
    path(project + "members/", members.MemberList.as_view(), name="api-members"),
    path(project + "members/<int:pk>/", members.MemberDetail.as_view(), name="api-member"),
    path(project + "invitations/", members.InvitationList.as_view(), name="api-invitations"),
    path(
        project + "invitations/<int:pk>/",
        members.InvitationDetail.as_view(),
        name="api-invitation",
    ),
    path(project + "deploys/", deploys.DeployList.as_view(), name="api-deploys"),
    path(project, include("monitor.alerts.api_urls")),
    path(project + "summary/", views.Summary.as_view(), name="api-summary"),
    path(project + "endpoints/", views.Endpoints.as_view(), name="api-endpoints"),
    path(project + "requests/", views.RequestList.as_view(), name="api-requests"),
    path(project + "requests/<int:pk>/", views.RequestDetail.as_view(), name="api-request"),
    path(project + "conflicts/", conflict_views.ConflictList.as_view(), name="api-conflicts"),
    path(
        project + "conflicts/<int:pk>/",
        conflict_views.ConflictDetail.as_view(),
        name="api-conflict",
    ),
    path(project + "offenders/", conflict_views.Offenders.as_view(), name="api-offenders"),
    path(project + "hotspots/", conflict_views.Hotspots.as_view(), name="api-hotspots"),
    path(project + "remedies/", conflict_views.Remedies.as_view(), name="api-remedies"),
]
