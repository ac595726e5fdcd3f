"""Alert API routes, included under projects/<slug>/ by monitor/api/urls.py."""

from django.urls import path

from monitor.alerts import api

urlpatterns = [
    path("rules/", api.RuleList.as_view(), name="api-rules"),
    path("rules/<int:pk>/", api.RuleDetail.as_view(), name="api-rule"),
    path("rules/<int:pk>/test/", api.RuleTest.as_view(), name="api-rule-test"),
    path("rules/<int:pk>/channels/", api.ChannelList.as_view(), name="api-rule-channels"),
    path(
        "rules/<int:pk>/channels/<int:channel_id>/",
        api.ChannelDetail.as_view(),
        name="api-rule-channel",
    ),
    path(
        "rules/<int:pk>/channels/<int:channel_id>/test/",
        api.ChannelTest.as_view(),
        name="api-rule-channel-test",
    ),
    path("incidents/", api.IncidentList.as_view(), name="api-incidents"),
    path("incidents/<int:pk>/", api.IncidentDetail.as_view(), name="api-incident"),
    path(
        "incidents/<int:pk>/acknowledge/",
        api.IncidentAcknowledge.as_view(),
        name="api-incident-acknowledge",
    ),
    path("incidents/<int:pk>/mute/", api.IncidentMute.as_view(), name="api-incident-mute"),
]
