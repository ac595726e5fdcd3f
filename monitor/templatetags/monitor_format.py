from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.1234 -> '12.3%'; None (or a missing value, '') -> '–'."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def get(mapping, key):
    """mapping[key] in templates (status counts keyed by strings)."""
    return mapping.get(str(key), 0) if mapping else 0


@register.filter
def status_class(status) -> str:
    return f"s{int(status) // 100}xx" if status else ""


@register.simple_tag
def client_link(project, client, range_query=""):
    """A link to a client's page (?c= carries the id, any characters, escaped), or '–'."""
    if not client:
        return "–"
    url = reverse("client", args=[project.slug]) + "?" + (range_query + "&" if range_query else "")
    return format_html(
        '<a class="client" href="{}{}">{}</a>', url, "c=" + quote(client, safe=""), client
    )
