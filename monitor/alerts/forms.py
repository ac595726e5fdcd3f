"""The rule form of the alerts page; validation is the model's (AlertRule.clean), as in the API."""

import re

from django import forms

from monitor.alerts.models import AlertRule
from monitor.models import Project

_SEPARATORS = re.compile(r"[\s,;]+")
MUTE_CHOICES = [("1h", "1 hour"), ("4h", "4 hours"), ("24h", "1 day"), ("7d", "7 days")]


class RuleForm(forms.ModelForm):
    recipients = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Email addresses, one per line or separated by commas.",
    )

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "metric",
            "threshold",
            "window_minutes",
            "endpoint",
            "cause",
            "status",
            "source",
            "recipients",
            "cooldown_minutes",
            "reminder_minutes",
            "min_requests",
            "enabled",
        ]
        help_texts = {
            "threshold": "Rates as fractions (0.2 = 20%); conflicts a count; p95 in ms; anomaly a "
            "factor over the usual rate at that hour (2 = double); minutes without records in "
            "minutes.",
            "window_minutes": "Minutes the metric is measured over.",
            "status": "A status such as 409, or a class such as 5xx (status rate needs one).",
            "source": "Minutes without records only: watch this source rather than the project.",
            "cooldown_minutes": "After an incident resolves, no new one opens for this long.",
            "reminder_minutes": "Mail a firing, unacknowledged incident again after this long; "
            "empty: never.",
            "min_requests": "Rates, latency and anomaly stay quiet on less traffic in the window.",
        }

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.project = project
        self.fields["endpoint"].queryset = project.endpoints.order_by("route", "method")
        self.fields["endpoint"].empty_label = "All endpoints"
        self.fields["source"].queryset = project.sources.order_by("name")
        self.fields["source"].empty_label = "All sources"
        if not self.is_bound:
            self.initial["recipients"] = "\n".join(self.instance.recipients or [])

    def clean_recipients(self) -> list[str]:
        return [r for r in _SEPARATORS.split(self.cleaned_data["recipients"]) if r]


class MuteForm(forms.Form):
    duration = forms.ChoiceField(choices=[*MUTE_CHOICES, ("off", "Unmute")])
