"""In and Out schemas of the videos API, the one JSON shape of a job (API and webhooks) and
of a timeline event (the API's server-sent events and the job page's live status)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from django.urls import reverse
from ninja import Field, Schema
from pydantic import ConfigDict

from portal.api.types import Text
from videos.models import Attachment, Job, JobEvent, JobStatus, VideoTemplate
from videos.providers import PROVIDERS, provider_for
from videos.selectors import QueueSpot, queue_spots

# The registry's slugs, as an enum the OpenAPI document lists.
ProviderSlug = StrEnum("ProviderSlug", {slug: slug for slug in PROVIDERS})  # type: ignore[misc]
# Every provider's regions (a template's and a key's `region` is always one of them).
RegionSlug = StrEnum(  # type: ignore[misc]
    "RegionSlug",
    {region.slug: region.slug for slug in PROVIDERS for region in provider_for(slug).regions},
)
# No provider takes longer texts (each checks its own limit when the job is made).
MAX_TEXT = 500

# The largest id a database integer column holds: anything above can only be "not found".
MAX_ID = 2**63 - 1
EXAMPLE_TEMPLATE = "392747428568649728"


class TemplateOut(Schema):
    id: int
    provider: ProviderSlug
    region: RegionSlug
    template_id: str
    name: str
    description: str
    media_inputs: int
    text_inputs: int
    price_cents: int
    image_types: list[str] = Field(..., description="The image types its provider takes.")
    image_rules: str = Field(..., description="Its provider's image rules, in words.")
    max_text: int = Field(..., description="The longest text input its provider takes.")


class TemplateListOut(Schema):
    items: list[TemplateOut]


class TextInputIn(Schema):
    model_config = ConfigDict(extra="forbid")
    value: Text = Field(..., max_length=MAX_TEXT, examples=["Lion"])


class MediaInputIn(Schema):
    model_config = ConfigDict(extra="forbid")
    value: Text = Field(
        ...,
        description=(
            "A `data:image/...;base64,` URL or a public http(s) URL, of an image the "
            "template's provider takes (GET /templates: `image_types`, `image_rules`)."
        ),
        examples=["https://example.com/me.png"],
    )


class VideoIn(Schema):
    # Unknown fields are refused by name, so a typo (`callbackUrl`) is not silently ignored.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "template_id": EXAMPLE_TEMPLATE,
                    "media_inputs": [{"value": "https://example.com/photo.jpg"}],
                    "reference": "order-7",
                }
            ]
        },
    )
    template_id: str = Field(
        ...,
        min_length=1,
        max_length=40,
        pattern=r"^[0-9A-Za-z_-]+$",
        description="The upstream template id, as listed by GET /templates.",
        examples=[EXAMPLE_TEMPLATE],
    )
    text_inputs: list[TextInputIn] = Field(default_factory=list, max_length=10)
    media_inputs: list[MediaInputIn] = Field(default_factory=list, max_length=10)
    key_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="A vault key of yours; default: your newest active key for the template.",
    )
    callback_url: Text | None = Field(
        None,
        max_length=1024,
        description="Receives signed video.processing / video.succeeded / video.failed events.",
    )
    reference: Text = Field("", max_length=200, description="Your own reference, echoed back.")


class JobErrorOut(Schema):
    code: str
    message: str


class VideoFileOut(Schema):
    url: str
    bytes: int
    content_type: str
    duration_s: float | None
    width: int | None = Field(None, description="Pixels, as read from the stored file.")
    height: int | None = None
    poster_url: str | None = Field(
        None, description="A WebP frame of the video (GET with the same token); null: none."
    )


class JobKeyOut(Schema):
    label: str
    last4: str


class QueueOut(Schema):
    position: int = Field(..., description="1: the next of the team's jobs to start.")
    eta_s: int = Field(..., description="About how many seconds until it starts.")


class JobOut(Schema):
    id: UUID
    status: JobStatus
    provider: ProviderSlug
    template_id: str
    template_name: str
    upstream_task_id: str
    upstream_status: str
    error: JobErrorOut | None
    reference: str
    progress: int
    created_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    cost_cents: int
    video: VideoFileOut | None
    key: JobKeyOut | None = Field(..., description="The vault key that runs it, once chosen.")
    queue: QueueOut | None = Field(
        ..., description="While it waits to start: its place in the team's queue."
    )


class JobListOut(Schema):
    items: list[JobOut]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


def template_payload(template: VideoTemplate) -> dict:
    rules = provider_for(template.provider).rules
    return {
        "id": template.pk,
        "provider": template.provider,
        "region": template.region,
        "template_id": template.template_id,
        "name": template.name,
        "description": template.description,
        "media_inputs": template.media_inputs,
        "text_inputs": template.text_inputs,
        "price_cents": template.price_cents,
        "image_types": list(rules.image.formats.values()),
        "image_rules": rules.image.summary,
        "max_text": rules.max_text,
    }


def download_path(job_id) -> str:
    return reverse("api-v1:video_download", kwargs={"video_id": job_id})


def file_path(job_id, attachment_id: int) -> str:
    return reverse("api-v1:video_file", kwargs={"video_id": job_id, "file_id": attachment_id})


def _result(job: Job) -> Attachment | None:
    # The list prefetches results into `results` (one query for the page, not one per job).
    prefetched = getattr(job, "results", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return job.result


def job_payload(job: Job, *, base_url: str = "", spots: dict | None = None) -> dict:
    """The job as the API and webhooks show it; `base_url` makes the video URL absolute.
    `spots`: queue places a list looked up for all its jobs at once (queue_spots)."""
    result = _result(job)
    spot = (spots if spots is not None else queue_spots([job])).get(job.pk)
    return {
        "id": job.id,
        "status": job.status,
        "provider": job.provider,
        "template_id": job.template.template_id,
        "template_name": job.template.name,
        "upstream_task_id": job.upstream_task_id,
        "upstream_status": job.upstream_status,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "reference": job.reference,
        "progress": job.progress,
        "created_at": job.created_at,
        "submitted_at": job.submitted_at,
        "finished_at": job.finished_at,
        "cost_cents": job.cost_cents,
        "video": video_payload(job.id, result, base_url=base_url) if result else None,
        "key": {"label": job.key.label, "last4": job.key.last4} if job.key else None,
        "queue": queue_payload(spot) if spot else None,
    }


def queue_payload(spot: QueueSpot) -> dict:
    return {"position": spot.position, "eta_s": spot.eta_seconds}


def video_payload(job_id, result: Attachment, *, base_url: str = "") -> dict:
    return {
        "url": base_url + download_path(job_id),
        "bytes": result.bytes,
        "content_type": result.content_type,
        "duration_s": result.duration_s,
        "width": result.width,
        "height": result.height,
        # The poster frame's id is on the result row: no query.
        "poster_url": base_url + file_path(job_id, result.poster_id) if result.poster_id else None,
    }


def event_payload(
    event: JobEvent,
    *,
    base_url: str = "",
    video_url: str = "",
    file_url: Callable[[int], str] | None = None,
) -> dict:
    """One timeline entry: a server-sent event's data, and an entry of the job page's events.

    A `video` event links its file at `video_url`, an `image` event (an image the upstream
    made on the way, or the poster) at `file_url(attachment_id)`; by default the API's
    (absolute with `base_url`). The job page passes its own session-authenticated URLs.
    """
    data = event.data or {}
    payload = {
        "id": event.id,
        "kind": event.kind,
        "status": event.status,
        "message": event.message,
        "created_at": event.created_at.isoformat(),
    }
    if "progress" in data:
        payload["progress"] = data["progress"]
    if "upstream_status" in data:
        payload["upstream_status"] = data["upstream_status"]
    if "error" in data:
        payload["error"] = data["error"]
    if event.kind == "video":
        video: dict = {
            "url": video_url or base_url + download_path(event.job_id),
            "bytes": data.get("bytes"),
            "content_type": data.get("content_type"),
            "duration_s": data.get("duration_s"),
        }
        if data.get("poster_id"):
            poster_id = int(data["poster_id"])
            video["poster_url"] = (
                file_url(poster_id) if file_url else base_url + file_path(event.job_id, poster_id)
            )
        payload["video"] = video
    if event.kind == "image" and data.get("attachment_id"):
        attachment_id = int(data["attachment_id"])
        payload["image"] = {
            "url": file_url(attachment_id)
            if file_url
            else base_url + file_path(event.job_id, attachment_id),
            "kind": data.get("attachment_kind", "image"),
            "content_type": data.get("content_type"),
        }
    return payload
