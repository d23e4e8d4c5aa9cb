"""Billing follows the job life cycle through videos.signals, inside each change's transaction.

A receiver that raises on `job_created` aborts the job (that is how a refused submit leaves no
trace); settling is idempotent, so a repeated or late transition changes nothing twice.
"""

from __future__ import annotations

from django.dispatch import receiver

from billing import services
from videos.models import JobStatus
from videos.signals import job_created, job_status_changed


@receiver(job_created, dispatch_uid="billing.reserve")
def reserve_on_create(sender, job, **kwargs) -> None:
    services.ledger_reserve(job=job)


@receiver(job_status_changed, dispatch_uid="billing.settle")
def settle_on_finish(sender, job_id, status, **kwargs) -> None:
    if status == JobStatus.SUCCEEDED:
        services.ledger_capture(job_id=job_id)
    elif status in (JobStatus.FAILED, JobStatus.CANCELED):
        services.ledger_release(job_id=job_id)
