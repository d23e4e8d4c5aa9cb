"""Helpers shared by the billing tests: set a team's limits, drive a job to an outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from billing.models import LedgerEntry, PeriodUsage, TeamPlan
from billing.selectors import team_plan_for
from tests.fakes import MP4, FakeResponse, ok
from videos import services
from videos.models import Job

CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"
VIDEO = "/out/v.mp4"
VIDEO_URL = "https://cdn.example/out/v.mp4"


def set_limits(team, *, videos=None, budget_cents=None, concurrent=None) -> TeamPlan:
    team_plan = team_plan_for(team=team)
    TeamPlan.objects.filter(pk=team.pk).update(
        video_limit_override=videos,
        budget_cents_override=budget_cents,
        max_concurrent_override=concurrent,
    )
    team_plan.refresh_from_db()
    return team_plan


def at(*args) -> mock._patch:
    """Fake the clock everywhere that reads django.utils.timezone.now."""
    moment = datetime(*args, tzinfo=UTC)
    return mock.patch("django.utils.timezone.now", return_value=moment)


def kinds(job) -> list[str]:
    return list(LedgerEntry.objects.filter(job=job).order_by("id").values_list("kind", flat=True))


def guard(team, period) -> tuple[int, int]:
    row = PeriodUsage.objects.filter(team=team, period=period).first()
    return (row.videos, row.cents) if row else (0, 0)


def submit(job, upstream, task_id: str = "T1") -> Job:
    upstream.answers.clear()  # a fresh script per job
    upstream.on(CREATE, ok(task_id=task_id))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    return job


def succeed(job, upstream) -> Job:
    """queued -> processing -> (query says Success) -> video stored -> succeeded."""
    submit(job, upstream)
    upstream.on(QUERY, ok(task_id="T1", status="Success", video_url=VIDEO_URL))
    upstream.on(VIDEO, FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    services.job_poll(job_id=job.id, force=True)
    services.job_fetch(job_id=job.id)
    job.refresh_from_db()
    return job
