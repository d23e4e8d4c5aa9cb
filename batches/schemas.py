"""In and Out schemas of the batches API, and the one JSON shape of a batch (API answers and
the `batch.completed` webhook)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.urls import reverse
from ninja import Field, Schema
from pydantic import ConfigDict

from batches.models import Batch, BatchItem, BatchStatus
from batches.selectors import BatchSummary
from portal.api.types import Text
from videos.api.schemas import (
    EXAMPLE_TEMPLATE,
    MAX_ID,
    JobErrorOut,
    MediaInputIn,
    ProviderSlug,
    TextInputIn,
)
from videos.models import JobStatus


class BatchItemIn(Schema):
    model_config = ConfigDict(extra="forbid")
    text_inputs: list[TextInputIn] = Field(default_factory=list, max_length=10)
    media_inputs: list[MediaInputIn] = Field(default_factory=list, max_length=10)
    reference: Text = Field("", description="Your own reference for this item, echoed back.")


class BatchIn(Schema):
    # Unknown fields are refused by name, so a typo (`callbackUrl`) is not silently ignored.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "template_id": EXAMPLE_TEMPLATE,
                    "items": [
                        {"media_inputs": [{"value": "https://example.com/shoe-1.jpg"}]},
                        {"media_inputs": [{"value": "https://example.com/shoe-2.jpg"}]},
                    ],
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
    items: list[BatchItemIn] = Field(
        ...,
        description=(
            "One per video, each like the body of POST /videos (text_inputs, media_inputs, "
            "reference). Up to BATCH_MAX_ITEMS (default 1,000). All are checked first: one "
            "bad item refuses the whole batch (422, `errors` lists each with its index)."
        ),
    )
    key_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="A vault key of yours for every job; default: the team's key pool.",
    )
    callback_url: Text | None = Field(
        None, max_length=1024, description="Receives a signed batch.completed event."
    )
    name: Text = Field("", max_length=200, description="A name for the batch.")


class BatchCountsOut(Schema):
    total: int
    queued: int
    submitting: int
    processing: int
    succeeded: int
    failed: int
    canceled: int


class BatchJobOut(Schema):
    row: int = Field(..., description="1-based position of the item in the request.")
    id: UUID = Field(..., description="The job: GET /videos/{id}.")
    status: JobStatus
    reference: str
    error: JobErrorOut | None
    attempt: int = Field(..., description="1, and one more each time a failed row is retried.")


class BatchOut(Schema):
    id: UUID
    name: str
    status: BatchStatus
    provider: ProviderSlug
    template_id: str
    template_name: str
    counts: BatchCountsOut
    progress: int = Field(..., description="Percent of its jobs that have ended.")
    cost_cents: int = Field(..., description="Charged so far: the videos made.")
    held_cents: int = Field(..., description="Reserved for the jobs not finished yet.")
    created_at: datetime
    finished_at: datetime | None
    canceled_at: datetime | None
    archive_url: str


class BatchDetailOut(BatchOut):
    job_ids: list[UUID] = Field(..., description="The current job of each row, in row order.")
    jobs: list[BatchJobOut]


class BatchListOut(Schema):
    items: list[BatchOut]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


def archive_path(batch_id) -> str:
    return reverse("api-v1:batch_archive", kwargs={"batch_id": batch_id})


def batch_payload(batch: Batch, summary: BatchSummary, *, base_url: str = "") -> dict:
    template = batch.template
    return {
        "id": batch.id,
        "name": batch.name,
        "status": summary.status,
        "provider": template.provider,
        "template_id": template.template_id,
        "template_name": template.name,
        "counts": {
            "total": summary.total,
            **{status: summary.count(status) for status in JobStatus.values},
        },
        "progress": summary.percent,
        "cost_cents": summary.charged_cents,
        "held_cents": summary.held_cents,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
        "canceled_at": batch.canceled_at,
        "archive_url": base_url + archive_path(batch.id),
    }


def batch_detail_payload(
    batch: Batch, summary: BatchSummary, items: list[BatchItem], *, base_url: str = ""
) -> dict:
    jobs = [
        {
            "row": item.row,
            "id": item.job_id,
            "status": item.job.status,
            "reference": item.job.reference,
            "error": (
                {"code": item.job.error_code, "message": item.job.error_message}
                if item.job.error_code
                else None
            ),
            "attempt": item.attempt,
        }
        for item in items
    ]
    return {
        **batch_payload(batch, summary, base_url=base_url),
        "job_ids": [job["id"] for job in jobs],
        "jobs": jobs,
    }
