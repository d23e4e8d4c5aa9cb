"""The team key pool: which key a job runs on, within each key's capacity and rate.

A job without an explicit key gets one when it is submitted (not when it is made): the
submitter's own keys and the keys shared with the job's team, of the template's provider and
region, that are active, not resting, below their jobs-at-once and creates-per-minute limits;
the least loaded first. When every key is busy the job waits in `queued` and is woken when a
slot frees (or looks again after JOB_POOL_RECHECK_SECONDS).

The limits hold across every worker process and host because the state lives in the
database: a key's load is the count of its jobs that are, or may be, at the upstream
(`submitting`, `processing`, and `queued` ones whose create may have gone out), counted under
a lock on the key rows in the same transaction that moves the job to `submitting`; the
times of its last minute's creates are kept in the key row (a sliding window). A slot held by
a worker that died stays held while its create may exist: the reconciler marks the job
ambiguous after the lease (JOB_SUBMITTING_STUCK_SECONDS), and the slot frees when the job
ends or is found upstream.

A waiting job is handed out again at its `next_attempt_at` by the sweeper (once a minute),
or at once by pool_wake when a slot frees or a key is added, shared or passes a check.

Jobs start in the order they were made: a job does not take a key that an older job of its
team, waiting for a key of the same provider and region, could take.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import KeyCooling, KeyStatus, Membership, ProviderKey
from videos.models import Job, JobStatus, KeyEvent, KeyEventKind
from videos.providers import provider_for
from videos.queue import enqueue
from videos.signals import key_health_changed

logger = logging.getLogger("videos.services")

AT_THE_UPSTREAM = [JobStatus.SUBMITTING, JobStatus.PROCESSING]
WINDOW = timedelta(minutes=1)
# upstream_data marks. A create whose answer was lost: the job stays on (and holds a slot of)
# the key that sent it until the upstream shows the task or shows there is none.
AMBIGUOUS = "ambiguous_since"
# The job waits in the queue for a free key (pool_wake below hands it out).
WAITING = "waiting_since"


def holding_a_slot() -> Q:
    """Jobs that are, or may be, running at the upstream on their key."""
    return Q(status__in=AT_THE_UPSTREAM) | Q(
        status=JobStatus.QUEUED, upstream_data__has_key=AMBIGUOUS
    )


def keys_usable_by(*, user, team, provider: str, region: str) -> QuerySet[ProviderKey]:
    """Keys a member's job may run on: their own, and those shared with the job's team."""
    return ProviderKey.objects.filter(
        usable_by(user=user, team=team),
        provider=provider,
        region=region,
        status=KeyStatus.ACTIVE,
    )


def usable_by(*, user, team) -> Q:
    return Q(user=user) | Q(shared_with=team)


def capacity(key: ProviderKey) -> int:
    return (
        key.max_concurrent
        or provider_for(key.provider).key_limits(max_jobs=key.max_jobs).max_concurrent
    )


def rate(key: ProviderKey) -> int | None:
    return key.rpm or provider_for(key.provider).key_limits(max_jobs=key.max_jobs).rpm


def loads(keys: list[ProviderKey], *, besides=None) -> dict[int, int]:
    """Jobs at the upstream per key (`besides`: a job not to count, the one claiming)."""
    rows = (
        Job.objects.filter(holding_a_slot(), key__in=keys)
        .exclude(pk=besides)
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
    load = loads(keys, besides=job.pk)
    free, soonest = [], None
    for key in keys:
        resting_until = key.cooling_until if key.cooling_until and key.cooling_until > now else None
        full_until = _window_full_until(key, now)
        if resting_until or full_until:
            until = max(filter(None, (resting_until, full_until)))
            soonest = until if soonest is None else min(soonest, until)
        elif load[key.pk] < capacity(key):
            free.append(key)
    # A full key frees when one of its jobs ends (which wakes the queue), a resting one when
    # its rest is over; a key added or shared meanwhile wakes the queue too. The next look is
    # never later than JOB_POOL_RECHECK_SECONDS anyway, whatever was missed.
    wait = now + timedelta(seconds=settings.JOB_POOL_RECHECK_SECONDS)
    waiting = Claim(key=None, wait_until=min(soonest, wait) if soonest else wait, busy=len(keys))
    if not free:
        return waiting
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
    first_in_line = _older_job_waiting_for(key, job)
    if first_in_line is not None:
        transaction.on_commit(lambda: _wake([first_in_line]))
        return waiting
    _count_create(key, now)
    return Claim(key=key)


def _stays_on_its_key(job: Job) -> bool:
    # A create that may have happened is looked for, and adopted, with the account that sent
    # it: such a job stays on its key, like one whose caller chose the key.
    return job.key_pinned or bool(job.key_id and job.upstream_data.get(AMBIGUOUS))


def _candidates(job: Job) -> list[ProviderKey]:
    if _stays_on_its_key(job):
        if job.key_id is None:
            return []  # its chosen key was deleted
        # Still the submitter's or shared with the job's team: unsharing stops it too.
        keys = ProviderKey.objects.filter(
            usable_by(user=job.created_by, team=job.team),
            pk=job.key_id,
            status=KeyStatus.ACTIVE,
        )
    else:
        keys = keys_usable_by(
            user=job.created_by, team=job.team, provider=job.provider, region=job.template.region
        )
    # Locked in one order (by id) by every claimer, so two claims never deadlock.
    return list(keys.select_for_update().order_by("pk"))


def _older_job_waiting_for(key: ProviderKey, job: Job):
    """First come, first served: the oldest job of the team waiting for a key it could run
    on takes this slot (it is woken), not a job that just arrived. Jobs that stay on their own
    key wait for that key only, so they neither skip nor hold up the line."""
    if _stays_on_its_key(job):
        return None
    older = Job.objects.filter(
        team_id=job.team_id,
        provider=job.provider,
        status=JobStatus.QUEUED,
        upstream_data__has_key=WAITING,
        key_pinned=False,
        template__region=job.template.region,
        created_at__lt=job.created_at,
    )
    if key.shared_with_id != job.team_id:
        older = older.filter(created_by_id=key.user_id)  # only its owner's jobs could use it
    return older.order_by("created_at").values_list("pk", flat=True).first()


def _recent(key: ProviderKey, now: datetime) -> list[float]:
    """The key's creates within the last minute (epoch seconds, oldest first)."""
    since = (now - WINDOW).timestamp()
    return [t for t in key.recent_creates if t > since]


def _window_full_until(key: ProviderKey, now: datetime) -> datetime | None:
    """While `rpm` creates were sent in the last 60 s: when the oldest of them leaves it."""
    limit = rate(key)
    recent = _recent(key, now)
    if not limit or len(recent) < limit:
        return None
    return datetime.fromtimestamp(recent[-limit], tz=now.tzinfo) + WINDOW


def _count_create(key: ProviderKey, now: datetime) -> None:
    recent = [*_recent(key, now), now.timestamp()]
    limit = rate(key)
    key.recent_creates = recent[-limit:] if limit else []
    ProviderKey.objects.filter(pk=key.pk).update(
        recent_creates=key.recent_creates, last_used_at=now
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
    if kind == KeyEventKind.OUT_OF_BALANCE:
        key_health_changed.send(sender=ProviderKey, key_id=key_id, kind=kind, reason=message)


def key_event(*, key_id: int | None, kind: str, message: str = "") -> None:
    if key_id is not None:
        KeyEvent.objects.create(key_id=key_id, kind=kind, message=message[:300])


def pool_wake(*, team_id: int, provider: str, limit: int = 5) -> None:
    """A slot freed: the team's oldest jobs waiting for a key of this provider look now.

    Once the caller's transaction commits: a finish holds the ledger's rows until then, and
    waking (which locks the woken jobs) inside it could deadlock against another finish."""
    transaction.on_commit(lambda: _wake(_waiting(team_id, provider, limit)))


def pool_wake_for_key(*, key_id: int) -> None:
    """The key has room (a slot freed, it was added, shared or passed a check): wake every
    team whose jobs could run on it, those its owner is in and the one it is shared with."""

    def wake() -> None:
        key = ProviderKey.objects.filter(pk=key_id).values("user", "shared_with", "provider")
        for found in key[:1]:
            members_of = Membership.objects.filter(user=found["user"])
            teams = set(members_of.values_list("team", flat=True))
            if found["shared_with"]:
                teams.add(found["shared_with"])
            for team_id in sorted(teams):
                _wake(_waiting(team_id, found["provider"], 5))

    transaction.on_commit(wake)


def _waiting(team_id: int, provider: str, limit: int) -> list:
    return list(
        Job.objects.filter(
            team_id=team_id,
            provider=provider,
            status=JobStatus.QUEUED,
            upstream_data__has_key=WAITING,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def _wake(job_ids: list) -> None:
    if not job_ids:
        return
    with transaction.atomic():
        now = timezone.now()
        # Handed out here and now: the dispatcher need not hand them out again.
        Job.objects.filter(pk__in=job_ids, status=JobStatus.QUEUED).update(
            next_attempt_at=now, dispatched_at=now
        )
        for job_id in job_ids:
            enqueue("videos.tasks.submit_job", job_id)
