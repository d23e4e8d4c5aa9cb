"""A batch: many videos of one template made as one unit.

Each item is an ordinary videos.Job (its own timeline, idempotency and ledger rows), linked
through BatchItem: the videos app sits below this one and knows nothing of batches.
Counts, cost and status are derived from the jobs with one grouped query
(batches.selectors.batch_summaries), never kept as counters: no counter can drift when
transitions race, repeat or are replayed by the reconciler.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Team
from videos.models import Job, VideoTemplate


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # no job has started yet
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"  # every video made
    PARTIAL = "partial", "Partly succeeded"  # finished; some made, some failed or canceled
    FAILED = "failed", "Failed"  # finished; none made, at least one failed
    CANCELED = "canceled", "Canceled"  # finished; every job canceled


class Batch(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="batches")
    template = models.ForeignKey(VideoTemplate, on_delete=models.PROTECT, related_name="batches")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="batches"
    )
    name = models.CharField(max_length=200, blank=True)
    # Receives the signed `batch.completed` event (integrations.webhooks).
    callback_url = models.URLField(max_length=1024, blank=True)
    # JSON API `Idempotency-Key` (per team) and the hash of the request it came with.
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when its last job ends (under a lock on this row: batches.services.batch_job_ended),
    # cleared when failed jobs are retried.
    finished_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The batch list (page and API): a team's batches, newest first.
            models.Index(fields=["team", "-created_at", "-id"], name="batch_team_created_idx"),
            # The sweep (batches.tasks.sweep): unfinished batches only.
            models.Index(
                fields=["created_at"],
                name="batch_unfinished_idx",
                condition=Q(finished_at__isnull=True),
            ),
        ]
        constraints = [
            # Concurrent duplicates of one API request: the database lets exactly one in.
            models.UniqueConstraint(
                fields=["team", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="batch_team_idempotency_key_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"batch {self.id}"

    @property
    def display_name(self) -> str:
        return self.name or f"{self.template.name} batch"


class BatchItem(models.Model):
    """One row of a batch and the job that makes it. Retrying a failed row makes a new job
    (and a new item, `attempt` + 1); the old item is `superseded` and stays for the record."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="batch_item")
    row = models.PositiveIntegerField()  # 1-based, in the order the items were given
    attempt = models.PositiveSmallIntegerField(default=1)
    superseded = models.BooleanField(default=False)

    class Meta:
        ordering = ["row", "attempt"]
        constraints = [
            # One current job per row: two retries at once cannot both make one.
            models.UniqueConstraint(
                fields=["batch", "row"],
                condition=Q(superseded=False),
                name="batchitem_one_current_per_row",
            ),
            models.UniqueConstraint(
                fields=["batch", "row", "attempt"], name="batchitem_batch_row_attempt_uniq"
            ),
        ]
        indexes = [
            # Counts, the grid, the archive: a batch's current items (joined to their jobs).
            models.Index(
                fields=["batch", "row"], name="batchitem_current_idx", condition=Q(superseded=False)
            ),
        ]

    def __str__(self) -> str:
        return f"row {self.row} of {self.batch_id} (job {self.job_id})"
