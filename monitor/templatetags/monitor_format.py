from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from monitor.rules.causes import CONFLICT_STATUSES

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


@register.filter
def is_conflict(status) -> bool:
    """409, 412, 423 or 428."""
    return status in CONFLICT_STATUSES


@register.simple_tag
def client_link(project, client, range_query=""):
    """A link to a client's page (?c= carries the id, any characters, escaped), or '–'."""
    if not client:
        return "–"
    url = reverse("client", args=[project.slug]) + "?" + (range_query + "&" if range_query else "")
    return format_html(
        '<a class="client" href="{}{}">{}</a>', url, "c=" + quote(client, safe=""), client
    )


@register.filter
def count(value) -> str:
    """12345 -> '12,345'; None -> '–'."""
    if value is None or value == "":
        return "–"
    return f"{int(value):,}"


def _shown(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return percent(value, 2)
    if kind == "ms":
        return f"{float(value):.1f} ms"
    return count(value)


@register.filter
def rate(figures):
    """A period's conflict rate, or None when it had no request: a rate of nothing is not 0%."""
    if not figures or not figures.get("requests"):
        return None
    return figures.get("conflict_rate")


@register.simple_tag
def change(current, before, kind: str = "count", worse: str = "up", was: bool = False):
    """The change from the previous period: an arrow and the amount (percentage points for a
    rate, a relative change otherwise), with the previous value in its title (and shown after
    it with `was`). Only a change in the direction that is bad (`worse`: "up", "down" or
    "none") is marked `worse`, which the stylesheet colours; a better one stays plain."""
    current = None if current == "" else current
    before = None if before == "" else before
    if before is None and current is None:
        return ""
    title = f"previous period: {_shown(before, kind)}"
    if current is None or before is None:
        arrow, amount, direction = "", "new" if before is None else "", ""
    else:
        diff = float(current) - float(before)
        direction = "up" if diff > 0 else "down" if diff < 0 else ""
        arrow = {"up": "▲", "down": "▼"}.get(direction, "=")
        if kind == "rate":
            amount = f"{abs(diff) * 100:.1f} pp"
        elif before:
            amount = f"{abs(diff) / float(before) * 100:.0f}%"
        else:
            amount = "new" if diff else "0%"
    bad = direction != "" and direction == worse
    classes = "delta" + (f" {direction}" if direction else "") + (" worse" if bad else "")
    html = format_html(
        '<span class="{}" title="{}">{}{}{}</span>',
        classes,
        title,
        arrow,
        " " if arrow and amount else "",
        amount,
    )
    if was:
        html += format_html(' <span class="was">was {}</span>', _shown(before, kind))
    return html


@register.filter
def breakable(value) -> str:
    """A path or route that may wrap after each "/" (never inside a segment unless a segment
    alone is wider than its column): escaped, with <wbr> after every slash."""
    if value is None:
        return ""
    parts = [conditional_escape(part) for part in str(value).split("/")]
    return mark_safe("/<wbr>".join(parts))  # noqa: S308 - every part is escaped above
