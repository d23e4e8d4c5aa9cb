"""Webhooks follow the job life cycle through videos.signals, and batches through
batches.signals (each sent inside its transaction)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver

from batches.signals import batch_finished
from integrations.webhooks import delivery_create, delivery_create_batch
from videos.signals import job_status_changed

logger = logging.getLogger(__name__)


@receiver(job_status_changed, dispatch_uid="integrations.queue_client_webhook")
def queue_client_webhook(sender, job_id, status: str, **kwargs) -> None:
    try:
        # A savepoint: on PostgreSQL a failed statement aborts the whole transaction, so
        # catching the error alone would still lose the job's change (every later statement
        # and the commit fail). Rolling back to the savepoint undoes only the webhook's part.
        with transaction.atomic():
            delivery_create(job_id=job_id, status=status)
    except Exception:
        # A receiver that raises rolls the job's change back: a webhook problem must never
        # stop a video from finishing. The failure is logged, the job moves on.
        logger.exception("job %s: could not queue the client webhook", job_id)


@receiver(batch_finished, dispatch_uid="integrations.queue_batch_webhook")
def queue_batch_webhook(sender, batch_id, **kwargs) -> None:
    try:
        with transaction.atomic():  # a savepoint, as above: the batch still finishes
            delivery_create_batch(batch_id=batch_id)
    except Exception:
        logger.exception("batch %s: could not queue the client webhook", batch_id)
