"""The notification pages: the list, opening one, marking all read, the preferences form.
Everything is the signed-in user's own: another user's notification answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from notifications import selectors, services
from portal.errors import FieldError


def _before(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise FieldError("before", "must be the number of a notification (from “Older”)")
    return int(raw)


@never_cache
@login_required
def index(request):
    before = _before(request.GET.get("before"))
    items, next_before = selectors.notifications_page(user=request.user, before=before)
    return render(
        request,
        "notifications/index.html",
        {"items": items, "next_before": next_before, "paged": before is not None},
    )


@login_required
@require_POST
def open_one(request, notification_id: int):
    notification = selectors.notification_for_user(
        user=request.user, notification_id=notification_id
    )
    if notification is None:
        raise Http404("no such notification")
    return redirect(services.notification_open(notification=notification) or "notifications:index")


@login_required
@require_POST
def read_all(request):
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(
        request, f"{count} notification(s) marked read." if count else "Nothing unread."
    )
    return redirect("notifications:index")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    if request.method == "GET":
        choices = selectors.preferences_for(user=request.user)
        return render(request, "notifications/preferences.html", {"choices": choices})
    ticked = [
        (name, value)
        for name, values in request.POST.lists()
        if name != "csrfmiddlewaretoken"
        for value in values
    ]
    try:
        services.preferences_set(user=request.user, ticked=ticked)
    except FieldError as exc:
        context = {"choices": selectors.preferences_for(user=request.user), "error": exc}
        return render(request, "notifications/preferences.html", context, status=422)
    messages.success(request, "Notification preferences saved.")
    return redirect("notifications:preferences")
