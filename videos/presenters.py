"""How a job is shown to its team: the live status payload of the job page."""

from __future__ import annotations

from django.urls import reverse

from videos.models import Job, JobEvent


def event_payload(event: JobEvent) -> dict:
    return {
        "id": event.id,
        "kind": event.kind,
        "status": event.status,
        "message": event.message,
        "created_at": event.created_at.isoformat(),
    }


def job_status_payload(job: Job, *, after: str | None = None) -> dict:
    events = job.events.all()
    if after and after.isdigit():
        events = events.filter(id__gt=int(after))
    result = job.result
    return {
        "id": str(job.id),
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress": job.progress,
        "upstream_status": job.upstream_status,
        "terminal": job.is_terminal,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "events": [event_payload(e) for e in events],
        "video": {
            "url": reverse("videos:job_video", args=[job.id]),
            "bytes": result.bytes,
            "content_type": result.content_type,
            "duration_s": result.duration_s,
        }
        if result
        else None,
    }
