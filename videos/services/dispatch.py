"""The dispatcher: hands out a job's next action the moment it is due.

Jobs keep their next action's time in `next_attempt_at` (a submit after a backoff or a wait
for a key, the next look at a processing job). django-q2 has no delayed tasks, so one loop
per worker cluster (videos/management/commands/qcluster.py) sleeps until the earliest due
time and enqueues what is due then. The once-a-minute sweep (videos.services.sweep) stays as
the safety net: if every dispatcher is down, work is only late, never lost.

Each due job is handed out once per due time: a conditional claim sets `dispatched_at`
(under SKIP LOCKED on PostgreSQL, so several clusters split the work). A task handed out
twice is harmless anyway: the submit and the poll each claim the job by a conditional update
(state, `poll_count`, `next_attempt_at`), so only one of them talks to the upstream.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from videos.models import Job, JobStatus
from videos.queue import enqueue

logger = logging.getLogger("videos.dispatch")

TASKS: dict[str, str] = {
    JobStatus.QUEUED: "videos.tasks.submit_job",
    JobStatus.PROCESSING: "videos.tasks.poll_job",
}


@dataclass(frozen=True)
class Dispatched:
    handed_out: int
    # Seconds until the loop should look again: the earliest next due time, capped so a due
    # time written meanwhile by another process is noticed soon (JOB_DISPATCH_MAX_SLEEP_SECONDS).
    sleep: float


def _not_handed_out(now: datetime) -> Q:
    lost = now - timedelta(seconds=settings.JOB_DISPATCH_LEASE_SECONDS)
    return (
        Q(dispatched_at__isnull=True)
        | Q(dispatched_at__lt=F("next_attempt_at"))
        # Handed out, but the task never claimed the job (lost between us and the broker).
        | Q(dispatched_at__lt=lost)
    )


def jobs_dispatch(*, now: datetime | None = None) -> Dispatched:
    """Hand out every job due by `now` (one batch); say how long to sleep before the next."""
    now = now or timezone.now()
    batch = settings.JOB_DISPATCH_BATCH
    handed_out = 0
    with transaction.atomic():
        due = (
            Job.objects.filter(
                _not_handed_out(now), status__in=list(TASKS), next_attempt_at__lte=now
            )
            .order_by("next_attempt_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", "status")[:batch]
        )
        rows = list(due)
        if rows:
            Job.objects.filter(pk__in=[pk for pk, _ in rows]).update(dispatched_at=now)
        for pk, status in rows:
            enqueue(TASKS[status], pk)  # on commit: the claim is visible first
            handed_out += 1
    cap = settings.JOB_DISPATCH_MAX_SLEEP_SECONDS
    if handed_out >= batch:
        return Dispatched(handed_out, 0.0)  # more are due: go on at once
    upcoming = (
        Job.objects.filter(status__in=list(TASKS), next_attempt_at__gt=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if upcoming is None:
        return Dispatched(handed_out, cap)
    return Dispatched(handed_out, max(0.0, min(cap, (upcoming - now).total_seconds())))


def _round() -> Dispatched:
    close_old_connections()  # a broken connection (the database restarted) is made again
    return jobs_dispatch()


def run_dispatcher(stop: threading.Event, *, dispatch: Callable[[], Dispatched] = _round) -> None:
    """The loop: dispatch, sleep until the next due time (or `stop`), again."""
    logger.info("dispatcher started")
    while not stop.is_set():
        try:
            sleep = dispatch().sleep
        except Exception:
            # The database is away, say: the sweep covers for us; try again shortly.
            logger.exception("dispatcher: a round failed")
            sleep = settings.JOB_DISPATCH_MAX_SLEEP_SECONDS * 5
        stop.wait(sleep)
    logger.info("dispatcher stopped")
