from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Team


class ApiToken(models.Model):
    """A personal access token: acts for its user in one team.

    Only `prefix` (to find the row) and an HMAC of the whole token are stored; the token
    itself is shown once, when it is made (integrations.services.token_create).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    hashed = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Authentication looks a token up by its prefix: it must name one row.
            models.UniqueConstraint(fields=["prefix"], name="apitoken_prefix_uniq"),
        ]
        indexes = [
            # The portal's token list: a user's tokens, newest first.
            models.Index(fields=["user", "-created_at"], name="apitoken_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WebhookSecret(models.Model):
    """A team's `whsec_` signing secret for outgoing webhooks, encrypted with the vault.

    After a rotation the previous secret keeps signing too (a second signature in the
    header) for WEBHOOK_SECRET_OVERLAP_SECONDS, so receivers can switch without a gap.
    """

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="webhook_secret")
    secret_encrypted = models.TextField(editable=False)
    previous_encrypted = models.TextField(blank=True, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"whsec_…{self.last4} of {self.team}"


class WebhookEvent(models.TextChoices):
    PROCESSING = "video.processing", "video.processing"
    SUCCEEDED = "video.succeeded", "video.succeeded"
    FAILED = "video.failed", "video.failed"
    # A batch's last job ended (once each time it finishes: retrying failed rows reopens it).
    BATCH_COMPLETED = "batch.completed", "batch.completed"
    # "Send test event" on the Integrations page: no job behind it.
    TEST = "test.ping", "test.ping"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Gave up"
    # Never sent: its endpoint was disabled (integrations.health). Can be re-sent once the
    # endpoint is enabled again, like a given-up delivery.
    SKIPPED = "skipped", "Skipped (endpoint disabled)"


# The first attempt and the retries of integrations.webhooks.RETRY_DELAYS.
SCHEDULED_ATTEMPTS = 8
# A delivery in one of these states can be re-sent by hand (integrations.webhooks.delivery_replay).
REPLAYABLE_STATUSES = (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


class WebhookEndpoint(models.Model):
    """One URL a team's webhooks go to (every job's callback_url with the same URL, and test
    events), with its health: Standard Webhooks / Svix disable an endpoint whose every
    attempt failed for 5 days, and an owner or admin enables it again by hand.

    `failing_since` is the time of the first failed attempt since the last successful one
    (null while the last attempt succeeded, or before any): an endpoint is disabled at a
    failed attempt made when `failing_since` is 5 days old or more (integrations.health).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=1024)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Our own words (dates, the last status code), never the receiver's answer.
    disabled_reason = models.CharField(max_length=300, blank=True)
    # When the owners were emailed about the disabling: set before the email is sent, so
    # they get it at most once per disabling however often the task runs.
    disabled_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team", "-created_at"]
        constraints = [
            # Deliveries find their endpoint by (team, url): one row per URL of a team.
            models.UniqueConstraint(fields=["team", "url"], name="webhookendpoint_team_url_uniq"),
            models.CheckConstraint(
                condition=Q(disabled_at__isnull=False) | Q(disabled_notified_at__isnull=True),
                name="webhookendpoint_notified_only_when_disabled",
            ),
        ]
        indexes = [
            # The sweeper's backstop: disabled endpoints whose owners were not emailed yet.
            models.Index(
                fields=["disabled_at"],
                name="endpoint_unnotified_idx",
                condition=Q(disabled_at__isnull=False, disabled_notified_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_url} of {self.team}"

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def display_url(self) -> str:
        """Scheme, host and path: a query string may hold the receiver's own token."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"


class WebhookDelivery(models.Model):
    """One event for one job's callback_url (or a test event); its id is the `webhook-id` of
    every attempt, replays included.

    The body is frozen when the event happens, so every retry sends the same bytes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_deliveries")
    # Null only for test and batch events (delivery_job_batch_or_test).
    job = models.ForeignKey(
        "videos.Job",
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
        null=True,
        blank=True,
    )
    # A batch event's batch (its `job` is null).
    batch = models.ForeignKey(
        "batches.Batch",
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
        null=True,
        blank=True,
    )
    # Set on every delivery (migration 0004 filled it in for older rows); nullable only so
    # that the migration could add the column before filling it.
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        null=True,
        blank=True,
    )
    event_type = models.CharField(max_length=30, choices=WebhookEvent.choices)
    url = models.URLField(max_length=1024)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # The attempt after which a failure gives the delivery up: the retry schedule's last, and
    # one more for each replay (a replay is one attempt, as in Svix, not a new schedule).
    max_attempts = models.PositiveSmallIntegerField(default=SCHEDULED_ATTEMPTS)
    replayed_at = models.DateTimeField(null=True, blank=True)
    # When the sweeper should hand the next attempt out; also a lease while one is running.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One delivery per event of a job, however often the status signal is replayed.
            models.UniqueConstraint(fields=["job", "event_type"], name="delivery_job_event_uniq"),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(finished_at__isnull=False),
                name="delivery_finished_has_finished_at",
            ),
            # A batch event happens once per time the batch finishes (a conditional update
            # in batches.services decides), so it needs no unique constraint of its own.
            models.CheckConstraint(
                condition=Q(job__isnull=False)
                | Q(batch__isnull=False, event_type="batch.completed")
                | Q(event_type="test.ping"),
                name="delivery_job_batch_or_test",
            ),
        ]
        indexes = [
            # The sweeper: pending deliveries whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_idx",
                condition=Q(status="pending"),
            ),
            # The delivery log: a team's deliveries, newest first.
            models.Index(fields=["team", "-created_at"], name="delivery_team_created_idx"),
        ]

    def __str__(self) -> str:
        about = f"batch {self.batch_id}" if self.batch_id else f"job {self.job_id}"
        return f"{self.event_type} for {about} [{self.status}]"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: the receiver's status code, how long it took, and why it failed.

    Never the receiver's response body: the URL is the API caller's choice, and a log that
    showed what came back would read internal pages back to them (SSRF). `error` is always
    our own words.
    """

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField()
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="webhookattempt_delivery_number_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
