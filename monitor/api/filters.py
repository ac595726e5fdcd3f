"""Filters of raw-request lists (`requests/`, its CSV export, and `conflicts/`), with
django-filter. The time range (`from`, `to`, relative or RFC 3339) is parsed by params.time_range;
this adds the column filters. A bad value is a 400 that names the parameter.
"""

import django_filters
from rest_framework.exceptions import ValidationError

from ingest.models import Request
from monitor.api.params import MAX_ID, MAX_TEXT, time_range
from monitor.reads.requests import in_range
from monitor.rules.causes import CAUSES


def _text(**kwargs) -> django_filters.CharFilter:
    # forms.CharField refuses NUL characters, which Postgres cannot store or compare.
    return django_filters.CharFilter(max_length=MAX_TEXT, **kwargs)


class RequestFilter(django_filters.FilterSet):
    endpoint = django_filters.NumberFilter(
        field_name="endpoint_id", min_value=0, max_value=MAX_ID, decimal_places=0
    )
    method = _text(method="filter_method")
    route = _text(field_name="route")
    client = _text(field_name="client")
    status = django_filters.NumberFilter(
        field_name="status", min_value=100, max_value=599, decimal_places=0
    )
    cause = django_filters.ChoiceFilter(choices=[(c, c) for c in CAUSES])
    request_id = _text(field_name="request_id")
    path = _text(field_name="path", lookup_expr="startswith")

    class Meta:
        model = Request
        fields: list[str] = []

    def filter_method(self, queryset, name, value):
        return queryset.filter(method=value.upper())


def filtered_requests(request, project):
    """The project's raw rows in the request's time range and filters (not yet ordered)."""
    fs = RequestFilter(request.query_params, queryset=in_range(project, time_range(request)))
    if not fs.is_valid():
        name, messages = next(iter(fs.errors.items()))
        raise ValidationError({"error": f"{name}: {' '.join(str(m) for m in messages)}"})
    return fs.qs
