"""JSON API: the caller's vault keys. Secrets go in once and never come back out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, Path, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from accounts.models import KeyStatus, ProviderKey
from accounts.selectors import keys_for_user
from portal.api.errors import ApiError, error_responses
from portal.api.types import Text
from videos import services
from videos.api.schemas import MAX_ID, ProviderSlug
from videos.providers import DEFAULT_PROVIDER

router = Router(tags=["keys"])


class KeyIn(Schema):
    model_config = ConfigDict(extra="forbid")
    provider: ProviderSlug = ProviderSlug(DEFAULT_PROVIDER)
    region: Text = Field(
        "",
        max_length=10,
        description="Which site of the provider the key belongs to; default: its first.",
        examples=["global"],
    )
    label: Text = Field(..., max_length=100, examples=["Production"])
    secret: Text = Field(..., max_length=4096, description="Stored encrypted; never shown again.")
    account: Text = Field(
        "",
        max_length=100,
        description="useapi.net: the MiniMax account configured there (default: any).",
    )
    max_jobs: int | None = Field(
        None, ge=1, le=10, description="useapi.net: `maxJobs`, videos at once per account."
    )


class KeyOut(Schema):
    id: int
    provider: ProviderSlug
    region: str
    label: str
    last4: str
    status: KeyStatus
    account: str
    max_jobs: int | None
    created_at: datetime


class KeyListOut(Schema):
    items: list[KeyOut]


def _key_of(request, key_id: int) -> ProviderKey:
    key = keys_for_user(user=request.auth.user).filter(pk=key_id).first()
    if key is None:
        raise ApiError(404, "not_found", "no such key in your vault")
    return key


@router.post("/keys", response={201: KeyOut, **error_responses(400, 413, 422)}, summary="Add a key")
def key_create(request, payload: KeyIn):
    key = services.key_store(
        user=request.auth.user,
        label=payload.label,
        secret=payload.secret,
        provider=payload.provider,
        region=payload.region,
        account=payload.account,
        max_jobs=payload.max_jobs,
    )
    return Status(201, key)


@router.get("/keys", response={200: KeyListOut, **error_responses()}, summary="List your keys")
def key_list(request):
    return {"items": list(keys_for_user(user=request.auth.user))}


@router.delete(
    "/keys/{key_id}",
    response={204: None, **error_responses(404, 409, 422)},
    summary="Delete a key",
    description="Refused (409) while an unfinished job still needs the key.",
)
def key_delete(request, key_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    services.key_delete(key=_key_of(request, key_id))
    return Status(204, None)
