"""Notifications follow jobs and keys through videos.signals (sent inside the change's
transaction). A notification must never undo what it reports: each receiver works in a
savepoint and only logs its own failure."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.dispatch import receiver

from batches.signals import batch_finished
from notifications import sources
from videos.models import JobStatus
from videos.signals import job_status_changed, key_health_changed

logger = logging.getLogger(__name__)


def _safely(what: str, work: Callable[[], object]) -> None:
    try:
        # A savepoint: on PostgreSQL a failed statement aborts the whole transaction, so
        # catching the error alone would still lose the job's change.
        with transaction.atomic():
            work()
    except Exception:
        logger.exception("could not notify: %s", what)


@receiver(job_status_changed, dispatch_uid="notifications.job_finished")
def job_finished(sender, job_id, status: str, **kwargs) -> None:
    if status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return
    _safely(
        f"job {job_id} {status}", lambda: sources.job_finished_notify(job_id=job_id, status=status)
    )
    if status == JobStatus.SUCCEEDED:  # the charge was captured just before, in this transaction
        _safely(f"job {job_id} thresholds", lambda: sources.team_thresholds_check(job_id=job_id))


@receiver(key_health_changed, dispatch_uid="notifications.key_health")
def key_health(sender, key_id: int, kind: str, reason: str = "", **kwargs) -> None:
    _safely(
        f"key {key_id} {kind}",
        lambda: sources.key_health_notify(key_id=key_id, kind=kind, reason=reason),
    )


@receiver(batch_finished, dispatch_uid="notifications.batch_finished")
def batch_done(sender, batch_id, **kwargs) -> None:
    _safely(f"batch {batch_id} finished", lambda: sources.batch_finished_notify(batch_id=batch_id))
