from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from monitor.api import views

project = "projects/<slug:slug>/"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("projects/", views.ProjectList.as_view(), name="api-projects"),
    path(project + "summary/", views.Summary.as_view(), name="api-summary"),
    path(project + "endpoints/", views.Endpoints.as_view(), name="api-endpoints"),
    path(project + "requests/", views.RequestList.as_view(), name="api-requests"),
    path(project + "requests/<int:pk>/", views.RequestDetail.as_view(), name="api-request"),
]
