"""The bell in every page's top bar: the signed-in user's unread count."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.selectors import bell_for


def bell(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages without the top bar (the admin, the dashboard) never run the query.
    return {"notification_bell": SimpleLazyObject(lambda: bell_for(user=user))}
