"""Calling a canceled job's task back upstream (providers that can: `cancels_running`).

The job is already `canceled` and its reservation released (videos.services.create.job_cancel):
whatever the upstream answers here changes neither.
"""

from __future__ import annotations

import logging
from datetime import datetime

from accounts.vault import VaultError
from videos.models import EventKind, Job, JobStatus
from videos.providers.base import Credentials
from videos.providers.errors import UpstreamError
from videos.services.pool import AMBIGUOUS
from videos.services.transitions import credentials_for, event, provider_of

logger = logging.getLogger("videos.services")


def job_cancel_upstream(*, job_id) -> None:
    job = (
        Job.objects.select_related("key", "template")
        .filter(pk=job_id, status=JobStatus.CANCELED)
        .first()
    )
    if job is None or job.key is None:
        return
    provider = provider_of(job)
    try:
        credentials = credentials_for(job.key)
        task_id = job.upstream_task_id or _lost_task(job, credentials)
        if not task_id:
            return
        provider.cancel(credentials, task_id)
    except (UpstreamError, VaultError) as exc:
        logger.info("job %s: upstream cancel failed: %s", job.id, exc)
        event(
            job.id,
            EventKind.NOTE,
            f"{provider.label} could not cancel the task ({getattr(exc, 'message', exc)}); it "
            "may still finish there. This job is not charged either way.",
        )
        return
    event(job.id, EventKind.NOTE, f"Canceled at {provider.label} too.")


def _lost_task(job: Job, credentials: Credentials) -> str:
    """The task of a create that was lost when the job was canceled, if the upstream shows it."""
    since = job.upstream_data.get(AMBIGUOUS)
    if not since:
        return ""
    found = provider_of(job).find_lost(
        credentials,
        reference=str(job.id),
        template_id=job.template.template_id,
        since=datetime.fromisoformat(since),
    )
    if found is None:
        return ""
    Job.objects.filter(pk=job.pk, upstream_task_id="").update(upstream_task_id=found.task_id)
    return found.task_id
