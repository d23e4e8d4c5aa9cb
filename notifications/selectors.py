"""Reads for notifications: the bell, the list, a user's preferences, where to email."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db.models import QuerySet

from notifications.models import EMAIL_BY_DEFAULT, Kind, Notification, NotificationPreference

BELL_CAP = 9  # the bell says "9+" beyond this: counting further costs and tells nothing
PAGE_SIZE = 30


@dataclass(frozen=True)
class Bell:
    unread: int

    @property
    def label(self) -> str:
        return f"{BELL_CAP}+" if self.unread > BELL_CAP else str(self.unread)


@dataclass(frozen=True)
class Choice:
    kind: str
    label: str
    email: bool
    portal: bool


def bell_for(*, user) -> Bell:
    # COUNT over at most BELL_CAP + 1 rows of notif_user_unread_idx (user, read_at IS NULL).
    unread = Notification.objects.filter(user=user, read_at__isnull=True)[: BELL_CAP + 1].count()
    return Bell(unread=unread)


def notifications_page(*, user, before: int | None = None) -> tuple[list[Notification], int | None]:
    """The user's newest notifications (in the portal), PAGE_SIZE at a time, keyset by id;
    returns them and the id to ask `before` for the next page (None: no more)."""
    rows = Notification.objects.filter(user=user, in_portal=True).order_by("-id")
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows[: PAGE_SIZE + 1])
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    return found, (found[-1].pk if more else None)


def notification_for_user(*, user, notification_id: int) -> Notification | None:
    """One of the user's own notifications; None for anyone else's (the caller answers 404)."""
    return Notification.objects.filter(user=user, pk=notification_id).first()


def preferences_for(*, user) -> list[Choice]:
    """Every kind with the user's choice (a row) or the default."""
    rows = {p.kind: p for p in NotificationPreference.objects.filter(user=user)}
    choices = []
    for kind in Kind:
        row = rows.get(kind.value)
        choices.append(
            Choice(
                kind=kind.value,
                label=kind.label,
                email=row.email if row else kind in EMAIL_BY_DEFAULT,
                portal=row.portal if row else True,
            )
        )
    return choices


def preference_of(*, user_id: int, kind: str) -> tuple[bool, bool]:
    """(email, portal) for one user and kind."""
    row = NotificationPreference.objects.filter(user_id=user_id, kind=kind).first()
    if row is None:
        return kind in EMAIL_BY_DEFAULT, True
    return row.email, row.portal


def verified_email(*, user_id: int) -> str | None:
    """The address to write to: the primary one if verified, else any verified one."""
    address = (
        EmailAddress.objects.filter(user_id=user_id, verified=True)
        .order_by("-primary", "id")
        .values_list("email", flat=True)
        .first()
    )
    return address or None


def unread_of(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, read_at__isnull=True)
