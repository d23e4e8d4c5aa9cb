"""JSON API: vault keys, the caller's own and those shared with the token's team. Secrets go
in once and never come back out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, Path, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict, StrictBool

from accounts.audit import client_ip
from accounts.models import KeyCooling, KeyStatus, ProviderKey
from portal.api.errors import ApiError, error_responses
from portal.api.types import Text
from videos import services
from videos.api.schemas import MAX_ID, ProviderSlug, RegionSlug
from videos.errors import KeyPermissionError
from videos.providers import DEFAULT_PROVIDER
from videos.selectors import key_loads, keys_visible_to

router = Router(tags=["keys"])

KeyId = Annotated[int, Path(ge=1, le=MAX_ID)]


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
    # repr=False: error reports print the frames' locals, this model among them.
    secret: Text = Field(
        ..., max_length=4096, repr=False, description="Stored encrypted; never shown again."
    )
    account: Text = Field(
        "",
        max_length=100,
        description="useapi.net: the MiniMax account configured there (default: any).",
    )
    max_jobs: int | None = Field(
        None, ge=1, le=10, description="useapi.net: `maxJobs`, videos at once per account."
    )
    shared: StrictBool = Field(False, description="Share with the token's team at once.")
    max_concurrent: int | None = Field(
        None, ge=1, le=100, description="Jobs at once on this key (default: the provider's)."
    )
    rpm: int | None = Field(
        None, ge=1, le=10_000, description="Creates per minute (default: the provider's)."
    )


class KeyPatchIn(Schema):
    """Only the fields sent change; `null` sets a limit back to the provider's default."""

    model_config = ConfigDict(extra="forbid")
    label: Text | None = Field(None, min_length=1, max_length=100)
    shared: StrictBool | None = None
    max_concurrent: int | None = Field(None, ge=1, le=100)
    rpm: int | None = Field(None, ge=1, le=10_000)


class SharedWithOut(Schema):
    id: int
    name: str


class KeyOut(Schema):
    id: int
    provider: ProviderSlug
    region: RegionSlug
    label: str
    last4: str
    status: KeyStatus
    account: str
    max_jobs: int | None
    owned: bool = Field(..., description="Yours (else a teammate's, shared with the team).")
    shared: bool = Field(..., description="Shared with a team (`shared_with`).")
    shared_with: SharedWithOut | None
    max_concurrent: int = Field(..., description="Jobs at once (the provider's default if unset).")
    rpm: int | None = Field(..., description="Creates per minute (null: no limit).")
    in_flight: int = Field(..., description="Jobs at the upstream on this key now.")
    cooling_until: datetime | None = Field(
        ..., description="Resting (rate-limited or out of balance) until then."
    )
    cooling_reason: KeyCooling | None
    errors_24h: int
    last_used_at: datetime | None
    last_checked_at: datetime | None
    last_check_ok: bool | None
    created_at: datetime


class KeyListOut(Schema):
    items: list[KeyOut]


class KeyTestOut(Schema):
    ok: bool = Field(..., description="The upstream takes the key.")
    key: KeyOut


def _payloads(request, keys: list[ProviderKey]) -> list[dict]:
    loads = key_loads(keys)
    return [
        {
            "id": key.pk,
            "provider": key.provider,
            "region": key.region,
            "label": key.label,
            "last4": key.last4,
            "status": key.status,
            "account": key.account,
            "max_jobs": key.max_jobs,
            "owned": key.user_id == request.auth.user_id,
            "shared": key.shared_with_id is not None,
            "shared_with": (
                {"id": key.shared_with.pk, "name": key.shared_with.name}
                if key.shared_with
                else None
            ),
            "max_concurrent": loads[key.pk].capacity,
            "rpm": loads[key.pk].rpm,
            "in_flight": loads[key.pk].in_flight,
            "cooling_until": key.cooling_until,
            "cooling_reason": key.cooling_reason or None,
            "errors_24h": loads[key.pk].errors_24h,
            "last_used_at": key.last_used_at,
            "last_checked_at": key.last_checked_at,
            "last_check_ok": key.last_check_ok,
            "created_at": key.created_at,
        }
        for key in keys
    ]


def _key_of(request, key_id: int) -> ProviderKey:
    key = keys_visible_to(user=request.auth.user, team=request.auth.team).filter(pk=key_id).first()
    if key is None:
        raise ApiError(404, "not_found", "no such key in your vault or shared with your team")
    return key


@router.post(
    "/keys",
    response={201: KeyOut, **error_responses(400, 413, 422)},
    summary="Add a key",
    operation_id="keys_create",
)
def key_create(request, payload: KeyIn):
    key = services.key_store(
        user=request.auth.user,
        label=payload.label,
        secret=payload.secret,
        provider=payload.provider,
        region=payload.region,
        account=payload.account,
        max_jobs=payload.max_jobs,
        share_with=request.auth.team if payload.shared else None,
        max_concurrent=payload.max_concurrent,
        rpm=payload.rpm,
        ip=client_ip(request),
    )
    return Status(201, _payloads(request, [key])[0])


@router.get(
    "/keys",
    response={200: KeyListOut, **error_responses()},
    summary="List keys",
    description="Your own keys, and the keys teammates shared with the token's team.",
    operation_id="keys_list",
)
def key_list(request):
    keys = list(keys_visible_to(user=request.auth.user, team=request.auth.team))
    return {"items": _payloads(request, keys)}


@router.patch(
    "/keys/{key_id}",
    response={200: KeyOut, **error_responses(400, 403, 404, 413, 422)},
    summary="Change a key",
    description=(
        "Its owner changes any field; an owner or admin of the team it is shared with may "
        "unshare it (`shared: false`). Unsharing applies to new jobs at once."
    ),
    operation_id="keys_update",
)
def key_update(request, key_id: KeyId, payload: KeyPatchIn):
    changes = {name: getattr(payload, name) for name in payload.model_fields_set}
    if "label" in changes and changes["label"] is None:
        changes.pop("label")
    if changes.get("shared") is None:
        changes.pop("shared", None)
    key = services.key_update(
        key=_key_of(request, key_id),
        by=request.auth.user,
        team=request.auth.team,
        ip=client_ip(request),
        **changes,
    )
    return _payloads(request, [key])[0]


@router.post(
    "/keys/{key_id}/test",
    response={200: KeyTestOut, **error_responses(403, 404, 422)},
    summary="Test a key",
    description=(
        "A harmless call to the upstream: does it take the key? Recorded on the key. Only "
        "the key's owner may test it."
    ),
    operation_id="keys_test",
)
def key_test(request, key_id: KeyId):
    key = _key_of(request, key_id)
    ok = services.key_test(key=key, by=request.auth.user)
    return {"ok": ok, "key": _payloads(request, [key])[0]}


class KeyRotateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    # Required, but checked by the service once the key is found: another team's key answers
    # 404 whatever the body. repr=False: error reports print the frames' locals.
    secret: Text = Field(
        "", max_length=4096, repr=False, description="The key's new secret (required)."
    )


@router.post(
    "/keys/{key_id}/rotate",
    response={200: KeyOut, **error_responses(400, 403, 404, 409, 413, 422)},
    summary="Replace a key's secret",
    description=(
        "After rotating the key at the upstream: label, limits and sharing stay, the key is "
        "checked again. Only its owner; refused (409) while an unfinished job needs the key."
    ),
    operation_id="keys_rotate",
)
def key_rotate(request, key_id: KeyId, payload: KeyRotateIn):
    key = _key_of(request, key_id)
    services.key_rotate(key=key, by=request.auth.user, secret=payload.secret, ip=client_ip(request))
    return _payloads(request, [key])[0]


@router.delete(
    "/keys/{key_id}",
    response={204: None, **error_responses(403, 404, 409, 422)},
    summary="Delete a key",
    description="Only its owner; refused (409) while an unfinished job still needs the key.",
    operation_id="keys_delete",
)
def key_delete(request, key_id: KeyId):
    key = _key_of(request, key_id)
    if key.user_id != request.auth.user_id:
        raise KeyPermissionError("only the key's owner can delete it")
    services.key_delete(key=key, by=request.auth.user, ip=client_ip(request))
    return Status(204, None)
