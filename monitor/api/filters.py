"""Filters of raw-request lists (`requests/`, its CSV export, and `conflicts/`), with
django-filter. The time range (`from`, `to`, relative or RFC 3339) is parsed by params.time_range;
this adds the column filters. A bad value is a 400 that names the parameter.
"""

import django_filters
from django import forms
from rest_framework.exceptions import ValidationError

from ingest.models import Request
from monitor.api.params import MAX_ID, MAX_TEXT, time_range
from monitor.reads.requests import in_range, with_request_id
from monitor.rules.causes import CAUSES, CONFLICT_STATUSES
from monitor.rules.statuses import status_bounds

YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")


def _text(**kwargs) -> django_filters.CharFilter:
    # forms.CharField refuses NUL characters, which Postgres cannot store or compare.
    return django_filters.CharFilter(max_length=MAX_TEXT, **kwargs)


class StatusField(forms.CharField):
    """A status code (409) or class (4xx), cleaned to the (lowest, highest) status it means."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            return status_bounds(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class StatusFilter(django_filters.Filter):
    field_class = StatusField

    def filter(self, qs, value):
        if value is None:
            return qs
        lo, hi = value
        return qs.filter(status=lo) if lo == hi else qs.filter(status__gte=lo, status__lte=hi)


class RequestFilter(django_filters.FilterSet):
    endpoint = django_filters.NumberFilter(
        field_name="endpoint_id", min_value=0, max_value=MAX_ID, decimal_places=0
    )
    method = _text(method="filter_method")
    route = _text(field_name="route")
    client = _text(field_name="client")
    status = StatusFilter(max_length=8)
    conflicts = django_filters.ChoiceFilter(
        choices=[(v, v) for v in YES + NO], method="filter_conflicts"
    )
    cause = django_filters.ChoiceFilter(choices=[(c, c) for c in CAUSES])
    request_id = _text(method="filter_request_id")
    path = _text(field_name="path", lookup_expr="startswith")

    class Meta:
        model = Request
        fields: list[str] = []

    def filter_method(self, queryset, name, value):
        return queryset.filter(method=value.upper())

    def filter_request_id(self, queryset, name, value):
        return with_request_id(queryset, value)

    def filter_conflicts(self, queryset, name, value):
        """Conflicts only (409, 412, 423, 428) for a yes; a no is no filter."""
        if value.lower() in YES:
            return queryset.filter(status__in=CONFLICT_STATUSES)
        return queryset


def filtered_requests(request, project):
    """The project's raw rows in the request's time range and filters (not yet ordered)."""
    fs = RequestFilter(request.query_params, queryset=in_range(project, time_range(request)))
    if not fs.is_valid():
        name, messages = next(iter(fs.errors.items()))
        raise ValidationError({"error": f"{name}: {' '.join(str(m) for m in messages)}"})
    return fs.qs
