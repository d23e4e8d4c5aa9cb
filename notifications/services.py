"""Writes for notifications: make one (as the user chose), read them, set the choices."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from notifications.models import EmailState, Kind, Notification, NotificationPreference
from notifications.selectors import Choice, preference_of, preferences_for
from portal.errors import FieldError
from videos.queue import enqueue

CHANNELS = ("email", "portal")


class PreferenceInputError(FieldError):
    """Bad input on the preferences form: `field` names the box, the message says why."""


def notify(
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    team_id: int | None = None,
    ref: str = "",
) -> Notification | None:
    """Tell one user, in the portal and/or by email as they chose; None if they want neither.

    Quick database work only: callers run inside other transactions (a job's transition).
    The email is sent by the worker once this transaction commits (task argument: the id)."""
    email, portal = preference_of(user_id=user_id, kind=kind)
    if not (email or portal):
        return None
    notification = Notification.objects.create(
        user_id=user_id,
        team_id=team_id,
        kind=kind,
        title=title[:200],
        body=body,
        link=link[:300],
        ref=ref[:80],
        in_portal=portal,
        read_at=None if portal else timezone.now(),
        email_state=EmailState.PENDING if email else EmailState.NOT_WANTED,
    )
    if email:
        enqueue("notifications.tasks.send_email", notification.pk)
    return notification


def notification_open(*, notification: Notification) -> str:
    """Mark it read (the first time) and return where it leads: its link, or the list."""
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    # Links are paths we made; refuse anything else all the same (no open redirect).
    link = notification.link
    if link.startswith("/") and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return link
    return ""


def notifications_mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def preferences_set(*, user, ticked: Iterable[tuple[str, str]]) -> list[Choice]:
    """Save the user's choice for every kind from the boxes ticked on the form.

    `ticked`: (name, value) pairs, each name "<kind>.<channel>" with the value "on"; a box
    not ticked is off. Anything else is refused, naming the box, and nothing is saved."""
    chosen: dict[str, set[str]] = {kind.value: set() for kind in Kind}
    for name, value in ticked:
        kind, dot, channel = name.partition(".")
        if not dot or kind not in chosen:
            raise PreferenceInputError(
                name, f"unknown kind of notification {kind!r}; the kinds are {', '.join(chosen)}"
            )
        if channel not in CHANNELS:
            raise PreferenceInputError(
                name, f"unknown channel {channel!r}; the channels are email and portal"
            )
        if value != "on":
            raise PreferenceInputError(name, f"a ticked box sends 'on', not {value!r}")
        chosen[kind].add(channel)
    rows = [
        NotificationPreference(
            user=user, kind=kind, email="email" in channels, portal="portal" in channels
        )
        for kind, channels in chosen.items()
    ]
    with transaction.atomic():
        NotificationPreference.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["user", "kind"],
            update_fields=["email", "portal"],
        )
    return preferences_for(user=user)
