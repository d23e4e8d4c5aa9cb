"""What every step of a job shares: the timeline, the terminal transition, retry timing, and
the way from a job to its provider and credentials.

States move forward only, by conditional update (`filter(status=OLD).update(...)` and check
the row count), so a task delivered twice, a worker killed mid-task or a callback that repeats
changes nothing the second time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import vault
from accounts.models import ProviderKey
from billing.services import ledger_capture, ledger_release
from portal import instruments
from videos.models import EventKind, Job, JobEvent, JobStatus
from videos.providers import provider_for
from videos.providers.base import Credentials, Provider
from videos.services.pool import pool_wake, pool_wake_for_key
from videos.signals import job_status_changed

logger = logging.getLogger("videos.services")

# Work handed out by one host's clock is claimed by another's: a job this close to its due
# time counts as due (hosts' clocks differ by milliseconds under NTP; a look a moment early
# is harmless).
DUE_SLACK = timedelta(seconds=1)


def event(job_id, kind: str, message: str, *, status: str = "", **data: Any) -> JobEvent:
    return JobEvent.objects.create(
        job_id=job_id, kind=kind, status=status, message=message[:500], data=data
    )


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with +-10 % jitter so a burst of retries spreads out."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * random.uniform(0.9, 1.1)


def poll_interval(poll_count: int) -> float:
    first, cap = settings.JOB_POLL_FIRST_SECONDS, settings.JOB_POLL_MAX_SECONDS
    return float(min(cap, first * 1.5**poll_count))


def provider_of(job: Job) -> Provider:
    return provider_for(job.provider)


def credentials_for(key: ProviderKey) -> Credentials:
    """The key as the provider needs it; raises accounts.vault.VaultError if it won't decrypt."""
    return Credentials(
        secret=vault.decrypt(key.secret_encrypted),
        region=key.region,
        account=key.account,
        max_jobs=key.max_jobs,
    )


def merged(data: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """upstream_data with a provider's new facts; an empty value never erases a known one."""
    result = dict(data)
    result.update({k: v for k, v in more.items() if v not in ("", None)})
    return result


def finish(
    job_id, from_statuses: list[str], status: str, *, message: str, match=None, **fields: Any
) -> bool:
    """Move a job to a terminal state once, and settle its reservation in the same
    transaction; returns False if another step got there first.

    `match` narrows the claim further (e.g. to one submit attempt).
    """
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(pk=job_id, status__in=from_statuses, **(match or {})).update(
            status=status, finished_at=now, next_attempt_at=None, updated_at=now, **fields
        )
        if not moved:
            return False
        if status == JobStatus.SUCCEEDED:
            ledger_capture(job_id=job_id)
        else:
            ledger_release(job_id=job_id)
        data = {}
        if fields.get("error_code"):
            data["error"] = {"code": fields["error_code"], "message": fields["error_message"]}
        event(job_id, EventKind.STATUS, message, status=status, **data)
        # Fan-out (client webhooks): receivers run inside this transaction.
        job_status_changed.send(sender=Job, job_id=job_id, status=status, previous=from_statuses)
        # Its key's slot is free: jobs waiting for one (of any team the key serves) look now.
        team_id, provider, key_id = (
            Job.objects.filter(pk=job_id).values_list("team_id", "provider", "key_id").get()
        )
        counter = instruments.JOBS_FINISHED.labels(provider, status)
        transaction.on_commit(counter.inc)  # /metrics: only what really happened
        if key_id is not None:
            pool_wake_for_key(key_id=key_id)
        else:
            pool_wake(team_id=team_id, provider=provider)
    logger.info("job %s -> %s", job_id, status)
    return True


def job_fail(
    job_id,
    *,
    code: str,
    message: str,
    from_statuses: list[str] | None = None,
    match=None,
    **fields: Any,
) -> bool:
    """`fields`: more columns to set with the failure (e.g. the upstream's last status)."""
    return finish(
        job_id,
        from_statuses or JobStatus.in_flight(),
        JobStatus.FAILED,
        message=f"Failed: {message}",
        match=match,
        error_code=code[:40],
        error_message=message[:500],
        **fields,
    )
