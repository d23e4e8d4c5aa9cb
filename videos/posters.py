"""Which poster a job or a template shows (reads only; the files are made by the fetch and
the catalogue, videos.services).

- A job: the frame cut from its stored video; else the upstream's own poster (useapi's
  cover) for a video stored before frames were cut; else none (the placeholder).
- A template: its cover (uploaded by staff in the admin, or copied from the provider's
  catalogue); else the poster of the team's own latest video of that template; else none.
  Its preview loop: the clip staff uploaded or the catalogue gave, made into a short loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.urls import reverse

from videos.models import Attachment, AttachmentKind, Job, JobStatus, VideoTemplate

# The frame we cut sorts before the upstream's poster ("frame" < "poster").
POSTER_KINDS = [AttachmentKind.FRAME, AttachmentKind.POSTER]


@dataclass(frozen=True)
class PosterImage:
    url: str
    width: int | None
    height: int | None
    source: str  # "frame" | "poster" | "cover" | "team"


@dataclass(frozen=True)
class TemplateMedia:
    poster: PosterImage | None
    preview_url: str  # the short muted loop, "" when the template has none


def _posters(jobs: Iterable[Job]) -> dict:
    by_job: dict = {}
    ids = [job.pk for job in jobs]
    if not ids:
        return by_job
    rows = (
        Attachment.objects.filter(job_id__in=ids, kind__in=POSTER_KINDS)
        .exclude(file="")
        .order_by("job_id", "kind", "position")
    )
    for row in rows:
        by_job.setdefault(row.job_id, row)
    return by_job


def job_poster_attachment(job: Job) -> Attachment | None:
    if hasattr(job, "_poster"):  # prepared by with_posters
        return job._poster
    poster = _posters([job]).get(job.pk)
    job._poster = poster  # type: ignore[attr-defined]
    return poster


def with_posters(jobs: Iterable[Job]) -> list[Job]:
    """The jobs, each knowing its poster: one query for a whole page of them."""
    jobs = list(jobs)
    found = _posters(jobs)
    for job in jobs:
        job._poster = found.get(job.pk)  # type: ignore[attr-defined]
    return jobs


def job_poster(job: Job) -> PosterImage | None:
    attachment = job_poster_attachment(job)
    if attachment is None:
        return None
    return PosterImage(
        url=reverse("videos:job_poster", args=[job.pk]),
        width=attachment.width,
        height=attachment.height,
        source=attachment.kind,
    )


# --- Templates -------------------------------------------------------------------------------


def _latest_team_jobs(team, templates: list[VideoTemplate]) -> dict[int, Job]:
    """Per template, the team's latest succeeded job of it (the partial index
    job_team_template_done_idx answers each with one index probe)."""
    if team is None or not templates:
        return {}
    latest = (
        Job.objects.filter(team=team, template=OuterRef("pk"), status=JobStatus.SUCCEEDED)
        .order_by("-finished_at")
        .values("pk")[:1]
    )
    pairs = (
        VideoTemplate.objects.filter(pk__in=[t.pk for t in templates])
        .annotate(latest_job=Subquery(latest))
        .exclude(latest_job=None)
        .values_list("pk", "latest_job")
    )
    jobs = {job_id: template_pk for template_pk, job_id in pairs}
    posters = _posters([Job(pk=job_id) for job_id in jobs])
    return {jobs[job_id]: _with(job_id, poster) for job_id, poster in posters.items()}


def _with(job_id, poster: Attachment) -> Job:
    job = Job(pk=job_id)
    job._poster = poster  # type: ignore[attr-defined]
    return job


def template_media(templates: Iterable[VideoTemplate], *, team) -> dict[int, TemplateMedia]:
    """Poster and preview of each template as `team` sees it: two queries for any number."""
    templates = list(templates)
    need_team = [t for t in templates if not t.cover]
    team_jobs = _latest_team_jobs(team, need_team)
    found: dict[int, TemplateMedia] = {}
    for template in templates:
        poster = None
        if template.cover:
            poster = PosterImage(
                url=reverse("videos:template_poster", args=[template.pk]),
                width=template.cover_width,
                height=template.cover_height,
                source="cover",
            )
        elif template.pk in team_jobs:
            job = team_jobs[template.pk]
            attachment = job._poster  # type: ignore[attr-defined]
            poster = PosterImage(
                url=reverse("videos:template_poster", args=[template.pk]),
                width=attachment.width,
                height=attachment.height,
                source="team",
            )
        preview = (
            reverse("videos:template_asset", args=[template.pk, "preview"])
            if template.preview
            else ""
        )
        found[template.pk] = TemplateMedia(poster=poster, preview_url=preview)
    return found


def with_template_media(templates: Iterable[VideoTemplate], *, team) -> list[VideoTemplate]:
    """The templates, each knowing its poster and preview (`template.media`)."""
    templates = list(templates)
    found = template_media(templates, team=team)
    for template in templates:
        template.media = found[template.pk]  # type: ignore[attr-defined]
    return templates


def template_poster_file(template: VideoTemplate, *, team):
    """The file the template's poster URL serves for `team`, with its type; None: none."""
    if template.cover:
        return template.cover, ""
    job = _latest_team_jobs(team, [template]).get(template.pk)
    if job is None:
        return None
    attachment = job._poster  # type: ignore[attr-defined]
    return attachment.file, attachment.content_type
