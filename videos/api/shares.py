"""JSON API: share links of a finished video. The link (its token) is in the answer that
makes it, and never again: only a hash is stored; lists show its first characters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from django.utils import timezone
from ninja import Field, Path, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict, StrictInt

from accounts.audit import client_ip
from portal.api.errors import ApiError, error_responses
from videos import services
from videos.api.schemas import MAX_ID
from videos.api.videos import _base_url, _job_of
from videos.models import Share
from videos.services.shares import SHARE_MAX_SECONDS, SHARE_MIN_SECONDS

router = Router(tags=["shares"])

ShareId = Annotated[int, Path(ge=1, le=MAX_ID)]


class ShareIn(Schema):
    model_config = ConfigDict(extra="forbid")
    expires_in_s: StrictInt | None = Field(
        None,
        ge=SHARE_MIN_SECONDS,
        le=SHARE_MAX_SECONDS,
        description="Seconds until the link stops working (a day to ten years); null: never.",
        examples=[604800],
    )


class ShareOut(Schema):
    id: int
    url: str | None = Field(
        ..., description="The public page; only in the answer that made the link, else null."
    )
    prefix: str = Field(..., description="The token's first characters, to tell links apart.")
    expires_at: datetime | None = Field(..., description="null: never.")
    revoked_at: datetime | None
    active: bool = Field(..., description="Opens now: neither revoked nor expired.")
    views: int = Field(..., description="Times its page was opened.")
    created_at: datetime


class ShareListOut(Schema):
    items: list[ShareOut]


def _payload(share: Share, *, url: str | None = None) -> dict:
    return {
        "id": share.pk,
        "url": url,
        "prefix": share.prefix,
        "expires_at": share.expires_at,
        "revoked_at": share.revoked_at,
        "active": share.is_active(timezone.now()),
        "views": share.views,
        "created_at": share.created_at,
    }


@router.post(
    "/videos/{video_id}/shares",
    response={201: ShareOut, **error_responses(400, 404, 409, 413, 422)},
    summary="Share a video",
    description=(
        "A public link to a finished video (status `succeeded`; else 409 `not_shareable`): "
        "a page with the player, the poster and the template's name, nothing of your team. "
        "`url` is shown in this answer only."
    ),
    operation_id="shares_create",
)
def video_share_create(request, video_id: UUID, payload: ShareIn):
    job = _job_of(request, video_id)
    share, raw = services.share_create(
        job=job,
        by=request.auth.user,
        expires_in_s=payload.expires_in_s,
        ip=client_ip(request),
    )
    url = services.share_url(raw, base_url=_base_url(request))
    return Status(201, _payload(share, url=url))


@router.get(
    "/videos/{video_id}/shares",
    response={200: ShareListOut, **error_responses(404, 422)},
    summary="List a video's share links",
    description="Newest first, revoked and expired ones too; `url` is null (not stored).",
    operation_id="shares_list",
)
def video_share_list(request, video_id: UUID):
    job = _job_of(request, video_id)
    return {"items": [_payload(share) for share in Share.objects.filter(job=job)]}


@router.delete(
    "/shares/{share_id}",
    response={204: None, **error_responses(404, 422)},
    summary="Revoke a share link",
    description="The link stops working at once. Revoking it again changes nothing (204).",
    operation_id="shares_revoke",
)
def share_delete(request, share_id: ShareId):
    # The token's team only: another team's link is "not found", even for a member of both.
    share = (
        Share.objects.select_related("job__team")
        .filter(pk=share_id, job__team=request.auth.team)
        .first()
    )
    if share is None:
        raise ApiError(404, "not_found", "no such share link")
    services.share_revoke(share=share, by=request.auth.user, ip=client_ip(request))
    return Status(204, None)
