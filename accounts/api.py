"""JSON API: the audit log of the token's team, for its owners and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, Query, Router, Schema

from accounts.audit import AuditFilter, audit_events
from accounts.models import AuditAction
from accounts.services import require_manager
from portal.api.cursors import cursor_decode, cursor_encode, int_pk
from portal.api.errors import error_responses, refuse_unknown_query

router = Router(tags=["audit"])

MAX_LIMIT = 100


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: str | None = Field(..., description="Username at the time; null: anonymous.")
    ip: str | None
    action: AuditAction
    target: str


class AuditListOut(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(..., description="Pass as `cursor` for older rows.")


@router.get(
    "/audit",
    response={200: AuditListOut, **error_responses(403, 422)},
    summary="Audit log",
    description=(
        "The token's team's security-relevant acts, newest first: sign-ins, keys, tokens, "
        "invitations, roles, plan, webhook secret, two-factor, share links. Owners and "
        "admins only (403 for members). Follow `next_cursor` until it is null."
    ),
    operation_id="audit_list",
)
def audit_list(
    request,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    refuse_unknown_query(request, "action", "limit", "cursor")
    require_manager(team=request.auth.team, user=request.auth.user)
    after = cursor_decode(cursor, pk=int_pk) if cursor else None
    rows = audit_events(
        team=request.auth.team, filters=AuditFilter(action=action or ""), after=after
    )
    page = list(rows[: limit + 1])
    return {
        "items": [
            {
                "id": event.pk,
                "at": event.at,
                "actor": event.actor_label or None,
                "ip": event.ip,
                "action": event.action,
                "target": event.target,
            }
            for event in page[:limit]
        ],
        "next_cursor": cursor_encode(page[limit - 1].at, page[limit - 1].pk)
        if len(page) > limit
        else None,
    }
