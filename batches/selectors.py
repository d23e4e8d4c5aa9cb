"""Reads of batches: a team's batches, and each batch's counts, cost and status derived from
its jobs with one grouped query (for one batch or a whole page of them)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

from django.db.models import Count, QuerySet, Sum

from accounts.models import Team
from batches.models import Batch, BatchItem, BatchStatus
from videos.models import JobStatus


@dataclass(frozen=True)
class BatchSummary:
    counts: dict[str, int] = field(default_factory=dict)  # current jobs per JobStatus
    charged_cents: int = 0  # captured: the succeeded jobs' prices
    held_cents: int = 0  # reserved for the unfinished ones

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def in_flight(self) -> int:
        return sum(self.count(s) for s in JobStatus.in_flight())

    @property
    def done(self) -> int:
        return self.total - self.in_flight

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def status(self) -> str:
        if self.in_flight:
            if self.count(JobStatus.QUEUED) == self.total:
                return BatchStatus.QUEUED
            return BatchStatus.RUNNING
        succeeded = self.count(JobStatus.SUCCEEDED)
        if succeeded == self.total:
            return BatchStatus.SUCCEEDED
        if succeeded:
            return BatchStatus.PARTIAL
        if self.count(JobStatus.CANCELED) == self.total:
            return BatchStatus.CANCELED
        return BatchStatus.FAILED

    @property
    def status_label(self) -> str:
        return BatchStatus(self.status).label


def batches_for_team(*, team: Team) -> QuerySet[Batch]:
    return Batch.objects.filter(team=team).select_related("template")


def batch_for_team(*, team: Team, batch_id: UUID) -> Batch | None:
    return batches_for_team(team=team).filter(pk=batch_id).first()


def current_items(batch: Batch) -> QuerySet[BatchItem]:
    """The batch's current item per row (retried rows: the newest attempt), jobs joined."""
    return (
        BatchItem.objects.filter(batch=batch, superseded=False)
        .select_related("job", "job__template")
        .order_by("row")
    )


def batch_summaries(batch_ids: list[UUID]) -> dict[UUID, BatchSummary]:
    """Every given batch's summary in one grouped query (one row per batch and status)."""
    rows = (
        BatchItem.objects.filter(batch_id__in=batch_ids, superseded=False)
        .values("batch_id", "job__status")
        .annotate(n=Count("id"), cents=Sum("job__cost_cents"))
        .order_by()
    )
    counts: dict[UUID, Counter] = {batch_id: Counter() for batch_id in batch_ids}
    charged: Counter = Counter()
    held: Counter = Counter()
    for row in rows:
        batch_id, status = row["batch_id"], row["job__status"]
        counts[batch_id][status] += row["n"]
        if status == JobStatus.SUCCEEDED:
            charged[batch_id] += row["cents"] or 0
        elif status in JobStatus.in_flight():
            held[batch_id] += row["cents"] or 0
    return {
        batch_id: BatchSummary(
            counts=dict(counts[batch_id]),
            charged_cents=charged[batch_id],
            held_cents=held[batch_id],
        )
        for batch_id in batch_ids
    }


def batch_summary(batch: Batch) -> BatchSummary:
    return batch_summaries([batch.pk])[batch.pk]
