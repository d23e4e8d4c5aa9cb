"""django-q2 entry points: thin callers of notifications.emails, each safe to run twice."""

from __future__ import annotations

from notifications import emails


def send_email(notification_id: str) -> bool:
    return emails.notification_email_send(notification_id=int(notification_id))


def sweep() -> int:
    """Once a minute (a django-q2 Schedule): emails whose task was lost."""
    return emails.notification_emails_sweep()
