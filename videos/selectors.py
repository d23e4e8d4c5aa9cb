"""Reads for templates and jobs; a job is visible to the members of its team only."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from videos.models import Job, VideoTemplate


def templates_active() -> QuerySet[VideoTemplate]:
    return VideoTemplate.objects.filter(is_active=True)


def jobs_for_team(*, team) -> QuerySet[Job]:
    return Job.objects.filter(team=team).select_related("template").order_by("-created_at")


def job_for_user(*, user, job_id) -> Job:
    """The job if the user is a member of its team; 404 otherwise (never 403: no leak)."""
    return get_object_or_404(
        Job.objects.select_related("template", "team"),
        pk=job_id,
        team__memberships__user=user,
    )
