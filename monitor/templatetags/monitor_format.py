from django import template

register = template.Library()


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.1234 -> '12.3%'; None -> '–'."""
    if value is None:
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def get(mapping, key):
    """mapping[key] in templates (status counts keyed by strings)."""
    return mapping.get(str(key), 0) if mapping else 0


@register.filter
def status_class(status) -> str:
    return f"s{int(status) // 100}xx" if status else ""
