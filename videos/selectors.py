"""Reads for templates and jobs; a job is visible to the members of its team only."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import KeyStatus, ProviderKey
from accounts.selectors import require_team_mfa
from portal.api.cursors import cursor_decode, cursor_encode
from videos.models import Job, JobStatus, KeyEvent, KeyEventKind, VideoTemplate
from videos.services.pool import AT_THE_UPSTREAM, capacity, keys_usable_by, loads, rate


def templates_active() -> QuerySet[VideoTemplate]:
    return VideoTemplate.objects.filter(is_active=True)


def jobs_for_team(*, team) -> QuerySet[Job]:
    return Job.objects.filter(team=team).select_related("template", "key").order_by("-created_at")


@dataclass(frozen=True)
class JobPage:
    """One keyset page of jobs, newest first, and the cursors of its neighbours (None: no
    such page). `object_list`, `has_next`, `has_previous` read like a Paginator page."""

    object_list: list[Job]
    next_cursor: str | None  # the older jobs: ?after=
    previous_cursor: str | None  # the newer jobs: ?before=

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None


def jobs_page(
    jobs: QuerySet[Job],
    *,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    field: str = "cursor",
) -> JobPage:
    """A page of `jobs` by keyset on (created_at, id), for the API list and the portal list.

    The condition is the row comparison `(created_at, id) < (X, Y)` (Django writes the
    portable OR-form where a backend has no row values), plus the redundant bound
    `created_at <= X` that any planner can turn into an index range: with the index
    (team, -created_at, -id) a deep page costs what the first one does — no COUNT, no OFFSET.
    `after`: the page older than that cursor; `before`: the page newer than it. A cursor this
    code did not write raises FieldError naming `field`.
    """
    row = Tuple(F("created_at"), F("id"))
    if before:
        at, pk = cursor_decode(before, pk=UUID, field=field)
        newer = jobs.filter(TupleGreaterThan(row, (at, pk)), created_at__gte=at)
        rows = list(newer.order_by("created_at", "id")[: limit + 1])
        items = rows[:limit][::-1]
        has_newer, has_older = len(rows) > limit, bool(items)
        if not items:  # nothing newer (any more): the first page
            return jobs_page(jobs, limit=limit)
    else:
        if after:
            at, pk = cursor_decode(after, pk=UUID, field=field)
            jobs = jobs.filter(TupleLessThan(row, (at, pk)), created_at__lte=at)
        rows = list(jobs.order_by("-created_at", "-id")[: limit + 1])
        items = rows[:limit]
        has_newer, has_older = bool(after) and bool(items), len(rows) > limit
    return JobPage(
        object_list=items,
        next_cursor=cursor_encode(items[-1].created_at, items[-1].id) if has_older else None,
        previous_cursor=cursor_encode(items[0].created_at, items[0].id) if has_newer else None,
    )


def job_for_user(*, user, job_id) -> Job:
    """The job if the user is a member of its team; 404 otherwise (never 403: no leak)."""
    job = get_object_or_404(
        Job.objects.select_related("template", "team", "key"),
        pk=job_id,
        team__memberships__user=user,
    )
    require_team_mfa(user=user, team=job.team)  # its team's two-factor rule, from any team
    return job


# What videos.services.follow.job_record_callback reads of the job a push is about.
CALLBACK_FIELDS = ("id", "provider", "status", "upstream_task_id", "upstream_data")


def _callback_jobs(provider: str, token: str) -> QuerySet[Job]:
    return Job.objects.filter(callback_token=token, provider=provider).order_by()


def callback_known(*, provider: str, token: str) -> bool:
    """Whether a callback URL (its unguessable token) is one of ours: all a challenge needs."""
    return _callback_jobs(provider, token).exists()


def job_for_callback(*, provider: str, token: str) -> Job | None:
    """The job behind a callback URL, with only what a push needs; None when unknown."""
    return _callback_jobs(provider, token).only(*CALLBACK_FIELDS).first()


# --- The key pool, as pages and the API show it --------------------------------------------


def key_providers(*, user, team) -> set[str]:
    """The providers the user has an active key of (own or shared with the team)."""
    return set(
        keys_visible_to(user=user, team=team)
        .filter(status=KeyStatus.ACTIVE)
        .values_list("provider", flat=True)
    )


def keys_visible_to(*, user, team) -> QuerySet[ProviderKey]:
    """A member's own keys and the keys shared with their team (never the secrets)."""
    return (
        ProviderKey.objects.filter(Q(user=user) | Q(shared_with=team))
        .select_related("user", "shared_with")
        .order_by("-created_at")
    )


@dataclass(frozen=True)
class KeyLoad:
    in_flight: int
    capacity: int
    rpm: int | None
    errors_24h: int


def key_loads(keys: list[ProviderKey]) -> dict[int, KeyLoad]:
    """Per key: jobs at the upstream now, capacity, rate, and errors of the last 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    errors = dict(
        KeyEvent.objects.filter(key__in=keys, created_at__gte=since)
        .exclude(kind=KeyEventKind.CHECKED)
        .order_by()
        .values("key")
        .annotate(n=Count("id"))
        .values_list("key", "n")
    )
    in_flight = loads(keys)
    return {
        key.pk: KeyLoad(in_flight[key.pk], capacity(key), rate(key), errors.get(key.pk, 0))
        for key in keys
    }


@dataclass(frozen=True)
class QueueSpot:
    position: int  # 1: the next of the team's jobs for this provider to start
    eta_seconds: int  # about how long until it starts, from recent run times


def job_queue_spot(job: Job) -> QueueSpot | None:
    return queue_spots([job]).get(job.pk)


def queue_spots(jobs: list[Job]) -> dict:
    """Where each queued job stands in its team's queue for its provider, and when it should
    start: the jobs ahead of it and those running, over the pool's capacity, times the median
    run time of the team's recent jobs there (an estimate, not a promise). A list page asks
    for all its jobs at once: what jobs of one team, provider and submitter share is looked
    up once, and the places of all of them are counted in one query."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        if job.status == JobStatus.QUEUED:
            key = (job.team_id, job.provider, job.created_by_id, job.template.region)
            groups.setdefault(key, []).append(job)
    spots = {}
    for (team_id, provider, user_id, region), members in groups.items():
        # The jobs ahead of each and those running, in one pass over the team's unfinished
        # jobs at the provider (few: the plan caps them; job_team_in_flight_idx).
        queued = Q(status=JobStatus.QUEUED)
        ahead = Job.objects.filter(
            team_id=team_id, provider=provider, status__in=[JobStatus.QUEUED, *AT_THE_UPSTREAM]
        ).aggregate(
            running=Count("id", filter=Q(status__in=AT_THE_UPSTREAM)),
            **{
                f"j{i}": Count("id", filter=queued & Q(created_at__lt=job.created_at))
                for i, job in enumerate(members)
            },
        )
        running = ahead["running"]
        pool = keys_usable_by(user=user_id, team=team_id, provider=provider, region=region)
        slots = max(1, sum(capacity(key) for key in pool))
        typical = _typical_run_seconds(team_id=team_id, provider=provider)
        for i, job in enumerate(members):
            rounds = max(0, math.ceil((running + ahead[f"j{i}"] + 1 - slots) / slots))
            spots[job.pk] = QueueSpot(
                position=ahead[f"j{i}"] + 1, eta_seconds=round(rounds * typical)
            )
    return spots


DEFAULT_RUN_SECONDS = 180.0  # upstream FACTS: 2-7 minutes is typical for useapi, less at MiniMax


def _typical_run_seconds(*, team_id: int, provider: str) -> float:
    recent = (
        Job.objects.filter(
            team_id=team_id,
            provider=provider,
            status=JobStatus.SUCCEEDED,
            submitted_at__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("submitted_at", "finished_at")[:20]
    )
    runs = sorted((done - start).total_seconds() for start, done in recent if done and start)
    return runs[len(runs) // 2] if runs else DEFAULT_RUN_SECONDS


def jobs_per_key_per_day(
    *, keys: list[ProviderKey], team=None, days: int = 14
) -> tuple[list, dict]:
    """Jobs started on each key per day (UTC), the last `days` days: (days, {key_id: [n...]}).
    `team`: only that team's jobs (a shared key also runs its owner's other teams' jobs)."""
    from django.db.models.functions import TruncDate

    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    jobs = Job.objects.filter(key__in=keys, submitted_at__date__gte=first)
    if team is not None:
        jobs = jobs.filter(team=team)
    rows = (
        jobs.annotate(day=TruncDate("submitted_at"))
        .order_by()
        .values("key", "day")
        .annotate(n=Count("id"))
    )
    dates = [first + timedelta(days=i) for i in range(days)]
    counts = {key.pk: [0] * days for key in keys}
    for row in rows:
        counts[row["key"]][(row["day"] - first).days] = row["n"]
    return dates, counts
