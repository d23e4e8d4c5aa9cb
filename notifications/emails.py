"""The email of a notification, sent by the worker (notifications.tasks.send_email), never
inside a request: plain text with a simple HTML alternative, through Django's email API
(the console in development, SMTP from EMAIL_URL or an anymail backend in production)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import EmailState, Notification
from notifications.selectors import preference_of, verified_email
from videos.queue import enqueue

logger = logging.getLogger(__name__)
SUBJECT_PREFIX = "[Video Agent Portal] "


def _one_line(text: str) -> str:
    # A key's label is the user's own text: no line break may reach a header.
    return " ".join(text.split())


# A task is enqueued the moment its notification commits; one still pending after this long
# was lost between the commit and the broker (or its worker died before the claim).
LOST_AFTER = timedelta(minutes=1)
SWEEP_BATCH = 1000


def notification_emails_sweep() -> int:
    """Hand out again every email still waiting for the worker; the count. Sending twice is
    harmless (the claim in notification_email_send), so nothing here needs to be exact."""
    lost = Notification.objects.filter(
        email_state=EmailState.PENDING, created_at__lt=timezone.now() - LOST_AFTER
    ).values_list("pk", flat=True)[:SWEEP_BATCH]
    count = 0
    for notification_id in lost:
        enqueue("notifications.tasks.send_email", notification_id)
        count += 1
    return count


def notification_email_send(*, notification_id: int) -> bool:
    """Send it once; True if it was sent now.

    The row is claimed first (pending -> sent), so a task delivered twice sends one email; a
    send that fails gives the claim back and raises, for django-q's retry."""
    claimed = Notification.objects.filter(
        pk=notification_id, email_state=EmailState.PENDING
    ).update(email_state=EmailState.SENT)
    if not claimed:
        return False
    notification = Notification.objects.get(pk=notification_id)
    wants_email, _portal = preference_of(user_id=notification.user_id, kind=notification.kind)
    address = verified_email(user_id=notification.user_id) if wants_email else None
    if address is None:
        # Turned off since, or no verified address: invitations and resets go to verified
        # addresses only, and so does this.
        state = EmailState.NO_ADDRESS if wants_email else EmailState.NOT_WANTED
        Notification.objects.filter(pk=notification_id).update(email_state=state)
        return False
    base = settings.PUBLIC_BASE_URL
    context = {
        "notification": notification,
        "url": f"{base}{notification.link}" if base and notification.link else "",
        "path": notification.link,
        "preferences": f"{base}/notifications/preferences/" if base else "",
    }
    message = EmailMultiAlternatives(
        subject=SUBJECT_PREFIX + _one_line(notification.title),
        body=render_to_string("notifications/email.txt", context),
        to=[address],
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    try:
        message.send()
    except Exception:
        Notification.objects.filter(pk=notification_id).update(email_state=EmailState.PENDING)
        raise
    logger.info("notification %s: emailed (%s)", notification_id, notification.kind)
    return True
