"""How a job is shown to its team: the live status payload of the job page."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils.text import slugify

from videos.api.schemas import event_payload, queue_payload
from videos.models import Job
from videos.selectors import job_queue_spot
from videos.services import job_cancelable


def _queue(job: Job) -> dict | None:
    """The API's queue place, and the sentence the page shows for it."""
    spot = job_queue_spot(job)
    if spot is None:
        return None
    minutes = round(spot.eta_seconds / 60)
    when = "as soon as a key is free" if spot.eta_seconds < 60 else f"in about {minutes} min"
    return {
        **queue_payload(spot),
        "text": f"Number {spot.position} in your team's queue; starts {when}.",
    }


def job_status_payload(job: Job, *, after: str | None = None) -> dict:
    events = job.events.all()
    if after and after.isascii() and after.isdigit():
        events = events.filter(id__gt=int(after))
    result = job.result
    # The page fetches files with the signed-in session, not through the token API.
    video_url = reverse("videos:job_video", args=[job.id])

    def file_url(attachment_id: int) -> str:
        return reverse("videos:job_file", args=[job.id, attachment_id])

    return {
        "id": str(job.id),
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress": job.progress,
        "upstream_status": job.upstream_status,
        "terminal": job.is_terminal,
        "cancelable": job_cancelable(job),
        "key": f"{job.key.label} (…{job.key.last4})" if job.key else "",
        "queue": _queue(job),
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        # Each event in the same shape as the API's server-sent events (one home).
        "events": [event_payload(e, video_url=video_url, file_url=file_url) for e in events],
        "video": {
            "url": video_url,
            "bytes": result.bytes,
            "content_type": result.content_type,
            "duration_s": result.duration_s,
            "width": result.width,
            "height": result.height,
            # The frame cut from the video (its id is on the result row: no query).
            "poster_url": reverse("videos:job_poster", args=[job.id]) if result.poster_id else "",
        }
        if result and result.file
        else None,
    }


def job_timeline(events: list[dict]) -> dict:
    """The job page's one timeline: status changes and progress, the upstream's pushes apart.

    A push only says "look again"; what the look found is the progress entry, so listing
    both showed every stage twice. The pushes stay available, folded away.
    """
    return {
        "timeline": [e for e in events if e["kind"] != "callback"],
        "pushes": [e for e in events if e["kind"] == "callback"],
        "has_images": any("image" in e for e in events),
    }


def download_name(job: Job) -> str:
    """diving-order-7.mp4: the template and the reference (or the job id) say what it is."""
    label = slugify(job.reference)[:60] or str(job.id)[:8]
    return f"{slugify(job.template.name) or 'video'}-{label}.mp4"


def sandbox_keys() -> list[dict] | None:
    """Which keys work, when the upstreams are the local sandbox (a fresh clone's setup);
    None against the real upstreams. The sandbox reads behaviours from the key's words."""
    local = ("localhost", "127.0.0.1", "[::1]", "sandbox")
    hosts = {
        "minimax": urlsplit(settings.MINIMAX_BASE_URL).hostname or "",
        "useapi": urlsplit(settings.USEAPI_BASE_URL).hostname or "",
    }
    found = []
    if hosts["minimax"] in local:
        found.append(
            {
                "provider": "MiniMax",
                "key": "sk-demo",
                "rule": "any key starting with sk-",
                "variants": [
                    ("sk-demo-gen5", "takes 5 s"),
                    ("sk-demo-fail", "ends failed"),
                    ("sk-demo-invalid", "is rejected"),
                    ("sk-demo-err1008", "is out of balance"),
                ],
            }
        )
    if hosts["useapi"] in local:
        found.append(
            {
                "provider": "useapi.net",
                "key": "user:1-demo",
                "rule": "any user:<number>-<word>",
                "variants": [
                    ("user:1-demo-gen5", "takes 5 s"),
                    ("user:1-demo-fail", "ends failed"),
                    ("user:1-demo-invalid", "is rejected"),
                ],
            }
        )
    return found or None
