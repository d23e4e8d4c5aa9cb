from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """420 -> "$4.20"."""
    try:
        return f"${int(value) / 100:,.2f}"
    except (TypeError, ValueError):
        return ""
