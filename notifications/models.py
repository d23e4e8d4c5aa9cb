"""Notifications, each user's choices of how to get them, and the team alerts already sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Team


class Kind(models.TextChoices):
    JOB_SUCCEEDED = "job_succeeded", "My video is ready"
    JOB_FAILED = "job_failed", "My video failed"
    # Every job of a batch the user made has ended (batches.signals.batch_finished).
    BATCH_FINISHED = "batch_finished", "My batch finished"
    KEY_REJECTED = "key_rejected", "A key of mine was rejected"
    KEY_OUT_OF_BALANCE = "key_out_of_balance", "A key of mine ran out of balance"
    BUDGET_80 = "budget_80", "Team spend reached 80 % of the month's budget"
    BUDGET_100 = "budget_100", "Team spend reached the month's budget"
    QUOTA_80 = "quota_80", "Team used 80 % of the month's videos"
    QUOTA_100 = "quota_100", "Team used all of the month's videos"


# Sent to a team's owners and admins, once per month per threshold (TeamAlert).
TEAM_KINDS = (Kind.BUDGET_80, Kind.BUDGET_100, Kind.QUOTA_80, Kind.QUOTA_100)
# Without a preference row: everything in the portal; by email what needs someone to act.
EMAIL_BY_DEFAULT = frozenset(
    {Kind.JOB_FAILED, Kind.KEY_REJECTED, Kind.KEY_OUT_OF_BALANCE, *TEAM_KINDS}
)


class EmailState(models.TextChoices):
    NOT_WANTED = "", "Not emailed"
    PENDING = "pending", "Waiting for the worker"
    SENT = "sent", "Sent"
    NO_ADDRESS = "no_address", "No verified address"


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # The team it is about (jobs, team alerts); none for a person's own key.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True, help_text="A path in the portal.")
    # What it is about ("job:<id>", "key:<id>"): repeats of one key's refusal are one.
    ref = models.CharField(max_length=80, blank=True)
    # False when the user wants it by email only: the row is what the email task reads, and
    # it is made read at once, so the bell's count never sees it.
    in_portal = models.BooleanField(default=True)
    email_state = models.CharField(
        max_length=12, choices=EmailState.choices, default=EmailState.NOT_WANTED, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The bell on every page: COUNT of a user's unread rows (read_at IS NULL).
            models.Index(fields=["user", "read_at", "-created_at"], name="notif_user_unread_idx"),
            # The list page: a user's newest first, keyset by id (?before=<id>).
            models.Index(fields=["user", "-id"], name="notif_user_recent_idx"),
            # The sweep: emails still waiting for the worker (a handful at most).
            models.Index(
                fields=["created_at"],
                name="notif_email_pending_idx",
                condition=models.Q(email_state="pending"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=Kind.values), name="notif_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.title}"


class NotificationPreference(models.Model):
    """A user's choice for one kind; no row means the defaults (EMAIL_BY_DEFAULT)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    email = models.BooleanField()
    portal = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notifpref_user_kind_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: email={self.email} portal={self.portal}"


class TeamAlert(models.Model):
    """A team threshold already announced for a month. Its UNIQUE constraint is what makes the
    alert once per month per threshold: of all the jobs crossing it at once, only the
    transaction that inserted this row sends the notifications."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="alerts")
    period = models.DateField(help_text="First day of the billing month (UTC).")
    threshold = models.CharField(max_length=20, choices=[(k.value, k.label) for k in TEAM_KINDS])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "period", "threshold"], name="teamalert_once_per_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team_id} {self.period:%Y-%m} {self.threshold}"
