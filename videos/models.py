from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import ProviderKey, Team


def _template_asset_path(instance: VideoTemplate, filename: str) -> str:
    return f"templates/{instance.provider}/{instance.template_id}/{filename}"


class VideoTemplate(models.Model):
    """One upstream video template: the official catalogue is seeded by a migration, other
    providers' come from their listings (videos.services.catalogue)."""

    provider = models.CharField(max_length=20)  # a videos.providers slug
    # Template ids differ between the global and the mainland China site.
    region = models.CharField(max_length=10)
    template_id = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    media_inputs = models.PositiveSmallIntegerField(default=0)
    text_inputs = models.PositiveSmallIntegerField(default=0)
    media_label = models.CharField(max_length=100, blank=True, default="Photo")
    text_label = models.CharField(max_length=100, blank=True)
    text_placeholder = models.CharField(max_length=100, blank=True)
    price_cents = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Stored copies of the listing's cover and preview clip (never hot-linked).
    cover = models.FileField(upload_to=_template_asset_path, max_length=300, blank=True)
    preview = models.FileField(upload_to=_template_asset_path, max_length=300, blank=True)
    # False when the upstream's listing did not say which inputs the template takes: it stays
    # hidden until staff set them in the admin.
    inputs_known = models.BooleanField(default=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # The listing's cover and clip URLs that `cover` and `preview` were copied from.
    source_urls = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "region", "template_id"], name="videotemplate_upstream_uniq"
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(media_inputs__gt=0) | Q(text_inputs__gt=0),
                name="videotemplate_active_has_inputs",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def price_display(self) -> str:
        return f"${self.price_cents / 100:.2f}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Submitting"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"

    @classmethod
    def terminal(cls) -> list[str]:
        return [cls.SUCCEEDED, cls.FAILED, cls.CANCELED]

    @classmethod
    def in_flight(cls) -> list[str]:
        return [cls.QUEUED, cls.SUBMITTING, cls.PROCESSING]


def _callback_token() -> str:
    return secrets.token_urlsafe(24)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    template = models.ForeignKey(VideoTemplate, on_delete=models.PROTECT, related_name="jobs")
    # The key the job runs on: chosen from the team's pool when it is submitted (`key_pinned`:
    # the caller chose it). SET_NULL only matters for finished jobs: key_delete refuses while
    # jobs are in flight on it.
    key = models.ForeignKey(ProviderKey, null=True, on_delete=models.SET_NULL, related_name="jobs")
    key_pinned = models.BooleanField(default=False)
    # The template's provider, kept on the job: every upstream call of the job goes there.
    provider = models.CharField(max_length=20)
    text_inputs = models.JSONField(default=list, blank=True)
    # One entry per media input: a public URL passed through, or "" for a stored Attachment.
    media_urls = models.JSONField(default=list, blank=True)
    reference = models.CharField(max_length=200, blank=True)
    # The client's own webhook for this job (JSON API); events are signed and retried.
    callback_url = models.URLField(max_length=1024, blank=True)
    # JSON API `Idempotency-Key` header (per team) and a hash of the request it came with.
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)

    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    upstream_task_id = models.CharField(max_length=200, blank=True)
    # Where the upstream says the task is, in neutral words (videos.providers.base.State)...
    upstream_state = models.CharField(max_length=10, blank=True)
    # ... and in its own (shown and logged as it came).
    upstream_status = models.CharField(max_length=40, blank=True)
    # What the provider asked to keep between calls (result URLs, file ids, ...): private to
    # the provider module, never shown.
    upstream_data = models.JSONField(default=dict, blank=True)
    # Unguessable per-job capability in the upstream's callback URL.
    callback_token = models.CharField(max_length=64, unique=True, default=_callback_token)

    submit_attempts = models.PositiveSmallIntegerField(default=0)
    fetch_attempts = models.PositiveSmallIntegerField(default=0)
    poll_count = models.PositiveIntegerField(default=0)
    # When the worker should next act: submit a queued job, re-query a processing one.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A running fetch holds this lease so a second one does not download the same video.
    fetching_until = models.DateTimeField(null=True, blank=True)
    # When a push last made the job be asked at once: pushes coalesce into at most one such
    # look per JOB_FORCED_POLL_MIN_SECONDS (a replayed push cannot hammer the upstream).
    forced_poll_at = models.DateTimeField(null=True, blank=True)
    # The same for pushes that say the task ended: their own window, so the "done" push that
    # follows a progress push within seconds is asked about at once, not a minute later.
    forced_final_poll_at = models.DateTimeField(null=True, blank=True)
    cost_cents = models.PositiveIntegerField(default=0)
    # Admitted with a batch (the batches app admits the whole batch): it waits in the team's
    # queue for a key, and neither counts nor is refused under the plan's jobs at once,
    # which limits single submits.
    queue_behind = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitting_since = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The job list: a team's jobs, newest first.
            models.Index(fields=["team", "-created_at"], name="job_team_created_idx"),
            # The sweeper: unfinished jobs whose next action is due.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="job_due_idx",
                condition=Q(status__in=["queued", "submitting", "processing"]),
            ),
            # The pool: jobs that are, or may be, at the upstream on one key (its load,
            # counted under its lock; queued ones count when their create may exist).
            models.Index(
                fields=["key", "status"],
                name="job_key_load_idx",
                condition=Q(status__in=["queued", "submitting", "processing"]),
            ),
            # The team's queue: its waiting jobs in order (first come first served, the place
            # in the queue), without reading the team's finished jobs.
            models.Index(
                fields=["team", "provider", "created_at"],
                name="job_team_queue_idx",
                condition=Q(status="queued"),
            ),
        ]
        constraints = [
            # Concurrent duplicates of one API request: the database lets exactly one in.
            models.UniqueConstraint(
                fields=["team", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="job_team_idempotency_key_uniq",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["processing", "succeeded", "failed", "canceled"])
                | Q(upstream_task_id=""),
                name="job_task_id_only_after_submit",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="job_progress_at_most_100"),
            models.CheckConstraint(
                condition=~Q(status__in=["succeeded", "failed", "canceled"])
                | Q(finished_at__isnull=False),
                name="job_terminal_has_finished_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} [{self.status}] {self.id}"

    @property
    def is_terminal(self) -> bool:
        return self.status in JobStatus.terminal()

    @property
    def result(self) -> Attachment | None:
        return self.attachments.filter(kind=AttachmentKind.RESULT).first()


class AttachmentKind(models.TextChoices):
    INPUT = "input", "Input image"
    RESULT = "result", "Result video"
    POSTER = "poster", "Poster"
    IMAGE = "image", "Image made on the way"


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"jobs/{instance.job.team_id}/{instance.job_id}/{instance.kind}-{filename}"


class Attachment(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=10, choices=AttachmentKind.choices)
    position = models.PositiveSmallIntegerField(default=0)
    # Empty while a file the upstream pointed at (`source_url`) is still being downloaded.
    file = models.FileField(upload_to=_attachment_path, max_length=300, blank=True)
    source_url = models.URLField(max_length=2000, blank=True)
    # The provider's reference to its copy of an input (e.g. an upload's id), reused on retry.
    upstream_ref = models.JSONField(default=dict, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    bytes = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "position"]
        constraints = [
            # A job has one result video: a second fetch cannot add another.
            models.UniqueConstraint(
                fields=["job", "kind", "position"], name="attachment_job_kind_position_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.position} of {self.job_id}"


class EventKind(models.TextChoices):
    STATUS = "status", "Status change"
    PROGRESS = "progress", "Progress"
    ERROR = "error", "Error"
    CALLBACK = "callback", "Upstream callback"
    VIDEO = "video", "Video stored"
    IMAGE = "image", "Image stored"
    NOTE = "note", "Note"


class JobEvent(models.Model):
    """The job's timeline; its id orders events (and is the SSE event id)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    status = models.CharField(max_length=12, blank=True)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "id"], name="jobevent_job_id_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class KeyEventKind(models.TextChoices):
    CHECKED = "checked", "Checked: works"
    REJECTED = "rejected", "Rejected by the upstream"
    RATE_LIMITED = "rate_limited", "Rate-limited"
    OUT_OF_BALANCE = "out_of_balance", "Out of balance"
    ERROR = "error", "Upstream error"


class KeyEvent(models.Model):
    """What happened to a vault key at the upstream: the key page's last 24 hours."""

    key = models.ForeignKey(ProviderKey, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=KeyEventKind.choices)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # The key page: one key's recent events, newest first.
        indexes = [models.Index(fields=["key", "-created_at"], name="keyevent_key_created_idx")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.kind}"


class OpenStream(models.Model):
    """An open event stream (GET /api/v1/videos/{id}/events), counted against the caps per
    token and per team across every web worker. A lease: a stream whose worker died stops
    counting once `lease_until` passes."""

    token_id = models.BigIntegerField()  # integrations.ApiToken: an app above this one
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    lease_until = models.DateTimeField()

    class Meta:
        indexes = [
            # The caps: a token's and a team's streams whose lease has not run out.
            models.Index(fields=["token_id", "lease_until"], name="openstream_token_idx"),
            models.Index(fields=["team", "lease_until"], name="openstream_team_idx"),
        ]

    def __str__(self) -> str:
        return f"stream of token {self.token_id} on {self.job_id}"


class Share(models.Model):
    """A public link to a finished video (/s/<token>/): no sign-in, nothing of the team.

    Only the token's SHA-256 is kept (videos.services.shares): the link is shown once, when
    it is made; afterwards the team sees `prefix` to tell its links apart."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="shares")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64)
    prefix = models.CharField(max_length=8)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never
    revoked_at = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The job page and GET /videos/{id}/shares: a job's links, newest first.
            models.Index(fields=["job", "-created_at"], name="share_job_created_idx"),
        ]
        constraints = [
            # The public page finds its link by the token's hash, and only one row may match.
            models.UniqueConstraint(fields=["token_hash"], name="share_token_hash_uniq"),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("created_at")),
                name="share_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"share {self.prefix}… of {self.job_id}"

    def is_active(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
