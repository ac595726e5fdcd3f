"""Alert pages, included under p/<slug>/ by monitor/urls.py."""

from django.urls import path

from monitor.alerts import views

app_name = "alerts"
urlpatterns = [
    path("alerts/", views.rules, name="rules"),
    path("alerts/<int:rule_id>/", views.rule, name="rule"),
    path("alerts/<int:rule_id>/toggle/", views.toggle_rule, name="toggle"),
    path("alerts/<int:rule_id>/test/", views.test_rule, name="test"),
    path("alerts/<int:rule_id>/delete/", views.delete_rule, name="delete"),
    path("alerts/<int:rule_id>/channels/", views.add_channel, name="add-channel"),
    path(
        "alerts/<int:rule_id>/channels/<int:channel_id>/delete/",
        views.remove_channel,
        name="remove-channel",
    ),
    path(
        "alerts/<int:rule_id>/channels/<int:channel_id>/test/",
        views.test_channel,
        name="test-channel",
    ),
    path("incidents/", views.incidents, name="incidents"),
    path("incidents/<int:incident_id>/", views.incident, name="incident"),
    path("incidents/<int:incident_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("incidents/<int:incident_id>/mute/", views.mute, name="mute"),
]
