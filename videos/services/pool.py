"""The team key pool: which key a job runs on, within each key's capacity and rate.

A job without an explicit key gets one when it is submitted (not when it is made): the
submitter's own keys and the keys shared with the job's team, of the template's provider and
region, that are active, not resting, below their jobs-at-once and creates-per-minute limits;
the least loaded first. When every key is busy the job waits in `queued` and is woken when a
slot frees (or looks again after JOB_POOL_RECHECK_SECONDS).

The limits hold across every worker process and host because the state lives in the
database: a key's load is the count of its jobs at the upstream (`submitting`/`processing`),
counted under a lock on the key rows in the same transaction that moves the job to
`submitting`; its minute's creates are a counter in the key row. A slot held by a worker that
died comes back by itself: the job stays `submitting` only until the reconciler's lease
(JOB_SUBMITTING_STUCK_SECONDS) runs out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import KeyCooling, KeyStatus, ProviderKey
from videos.models import Job, JobStatus, KeyEvent, KeyEventKind
from videos.providers import provider_for
from videos.queue import enqueue

logger = logging.getLogger("videos.services")

AT_THE_UPSTREAM = [JobStatus.SUBMITTING, JobStatus.PROCESSING]
WINDOW = timedelta(minutes=1)


def keys_usable_by(*, user, team, provider: str, region: str) -> QuerySet[ProviderKey]:
    """Keys a member's job may run on: their own, and those shared with the job's team."""
    return ProviderKey.objects.filter(
        Q(user=user) | Q(shared_with=team),
        provider=provider,
        region=region,
        status=KeyStatus.ACTIVE,
    )


def capacity(key: ProviderKey) -> int:
    return (
        key.max_concurrent
        or provider_for(key.provider).key_limits(max_jobs=key.max_jobs).max_concurrent
    )


def rate(key: ProviderKey) -> int | None:
    return key.rpm or provider_for(key.provider).key_limits(max_jobs=key.max_jobs).rpm


def loads(keys: list[ProviderKey]) -> dict[int, int]:
    """Jobs at the upstream per key."""
    rows = (
        Job.objects.filter(key__in=keys, status__in=AT_THE_UPSTREAM)
        .order_by()
        .values("key")
        .annotate(n=Count("id"))
    )
    found = {row["key"]: row["n"] for row in rows}
    return {key.pk: found.get(key.pk, 0) for key in keys}


@dataclass(frozen=True)
class Claim:
    """A key for the job; or none, and until when to wait (None: no key will ever do)."""

    key: ProviderKey | None
    wait_until: datetime | None = None
    busy: int = 0  # how many usable keys were full or resting


def pool_claim(job: Job) -> Claim:
    """Take a slot for the job on the best key. Must run inside the transaction that moves
    the job to `submitting`: the key rows stay locked until it commits."""
    now = timezone.now()
    keys = _candidates(job)
    if not keys:
        return Claim(key=None)
    load = loads(keys)
    free, soonest, full = [], None, False
    for key in keys:
        resting_until = key.cooling_until if key.cooling_until and key.cooling_until > now else None
        full_until = _window_full_until(key, now)
        if resting_until or full_until:
            until = max(filter(None, (resting_until, full_until)))
            soonest = until if soonest is None else min(soonest, until)
        elif load[key.pk] < capacity(key):
            free.append(key)
        else:
            full = True
    if not free:
        # A key full of jobs frees when one ends (which wakes the queue) or, at the latest,
        # at the next look; a resting key only when its rest is over.
        wait = now + timedelta(seconds=settings.JOB_POOL_RECHECK_SECONDS)
        until = min(soonest, wait) if soonest and full else (soonest or wait)
        return Claim(key=None, wait_until=until, busy=len(keys))
    # Least loaded first (by share of its capacity), then the one rested longest.
    key = min(
        free,
        key=lambda k: (
            load[k.pk] / capacity(k),
            load[k.pk],
            k.last_used_at or datetime.min.replace(tzinfo=now.tzinfo),
            k.pk,
        ),
    )
    _count_create(key, now)
    return Claim(key=key)


def _candidates(job: Job) -> list[ProviderKey]:
    # A create that may have happened is looked for, and adopted, with the account that sent
    # it: such a job stays on its key, like one whose caller chose the key.
    stays = job.key_pinned or bool(job.key_id and job.upstream_data.get("ambiguous_since"))
    if stays:
        if job.key_id is None:
            return []  # its chosen key was deleted
        keys = ProviderKey.objects.filter(pk=job.key_id, status=KeyStatus.ACTIVE)
    else:
        keys = keys_usable_by(
            user=job.created_by, team=job.team, provider=job.provider, region=job.template.region
        )
    # Locked in one order (by id) by every claimer, so two claims never deadlock.
    return list(keys.select_for_update().order_by("pk"))


def _window_full_until(key: ProviderKey, now: datetime) -> datetime | None:
    limit = rate(key)
    start = key.rpm_window_start
    if not limit or start is None or now - start >= WINDOW:
        return None
    return start + WINDOW if key.rpm_window_count >= limit else None


def _count_create(key: ProviderKey, now: datetime) -> None:
    if key.rpm_window_start is None or now - key.rpm_window_start >= WINDOW:
        key.rpm_window_start, key.rpm_window_count = now, 1
    else:
        key.rpm_window_count += 1
    ProviderKey.objects.filter(pk=key.pk).update(
        rpm_window_start=key.rpm_window_start,
        rpm_window_count=key.rpm_window_count,
        last_used_at=now,
    )


def key_rest(*, key_id: int, reason: str, seconds: float, message: str) -> None:
    """The key refused for rate or balance: it rests, and new jobs go to other keys."""
    until = timezone.now() + timedelta(seconds=seconds)
    ProviderKey.objects.filter(pk=key_id).update(cooling_until=until, cooling_reason=reason)
    kind = (
        KeyEventKind.OUT_OF_BALANCE
        if reason == KeyCooling.OUT_OF_BALANCE
        else KeyEventKind.RATE_LIMITED
    )
    key_event(key_id=key_id, kind=kind, message=message)


def key_event(*, key_id: int | None, kind: str, message: str = "") -> None:
    if key_id is not None:
        KeyEvent.objects.create(key_id=key_id, kind=kind, message=message[:300])


def pool_wake(*, team_id: int, provider: str, limit: int = 5) -> None:
    """A slot freed: the team's oldest jobs waiting for a key of this provider look now."""
    waiting = list(
        Job.objects.filter(
            team_id=team_id,
            provider=provider,
            status=JobStatus.QUEUED,
            upstream_data__has_key="waiting_since",
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not waiting:
        return
    with transaction.atomic():
        Job.objects.filter(pk__in=waiting, status=JobStatus.QUEUED).update(
            next_attempt_at=timezone.now()
        )
        for job_id in waiting:
            enqueue("videos.tasks.submit_job", job_id)
