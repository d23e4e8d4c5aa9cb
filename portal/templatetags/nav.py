"""The top bar's links: which section the current page belongs to (highlighted, aria-current)."""

from __future__ import annotations

from django import template

register = template.Library()

# URL namespace (and, for the videos app, the view name) -> the top-bar section it lies in.
_VIDEOS = {"gallery": "templates", "job_new": "templates", "keys": "keys"}
# A share link's URLs are public pages: their error page must not show the viewer's teams.
_PUBLIC = {"share", "share_video", "share_poster"}
_NAMESPACES = {
    "batches": "batches",
    "billing": "usage",
    "accounts": "team",
    "integrations": "integrations",
    "dashboard": "dashboard",
    "notifications": "notifications",
}


@register.simple_tag(takes_context=True)
def nav_section(context) -> str:
    """'templates', 'jobs', 'keys', ..., 'public' (a share link's), or '' (none, or a 500
    page, which renders without a request)."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    if match.namespace == "videos":
        if match.url_name in _PUBLIC:
            return "public"
        if match.url_name in _VIDEOS:
            return _VIDEOS[match.url_name]
        return "jobs" if (match.url_name or "").startswith("job_") else ""
    return _NAMESPACES.get(match.namespace, "")
