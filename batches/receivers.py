"""Batches follow their jobs through videos.signals (sent inside the job's transaction)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver

from batches.services import batch_job_ended
from videos.models import JobStatus
from videos.signals import job_status_changed

logger = logging.getLogger(__name__)


@receiver(job_status_changed, dispatch_uid="batches.job_ended")
def job_ended(sender, job_id, status: str, **kwargs) -> None:
    if status not in JobStatus.terminal():
        return
    try:
        with transaction.atomic():  # a savepoint: never undo the job's own change
            batch_job_ended(job_id=job_id)
    except Exception:
        # The batch sweep finishes it later; the job's end must not wait on its batch.
        logger.exception("job %s: could not follow up its batch", job_id)
