"""JSON API: the token's team's webhook deliveries, and re-sending one that was given up."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ninja import Field, Router, Schema
from ninja.responses import Status

from integrations import webhooks
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from portal.api.errors import ApiError, error_responses

router = Router(tags=["webhooks"])


class DeliveryOut(Schema):
    id: UUID
    webhook_id: str = Field(..., description="The `webhook-id` header of every attempt.")
    event_type: WebhookEvent
    job_id: UUID | None = Field(..., description="null for a test event.")
    status: DeliveryStatus = Field(
        ...,
        description=(
            "`pending` (being tried), `succeeded`, `failed` (given up), `skipped` (not sent: "
            "its endpoint was disabled)."
        ),
    )
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None = Field(..., description="The receiver's last HTTP status.")
    last_error: str = Field(..., description="Why the last attempt failed, in our words.")
    created_at: datetime
    finished_at: datetime | None
    replayed_at: datetime | None = Field(..., description="When it was last re-sent by hand.")


def _payload(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_type": delivery.event_type,
        "job_id": delivery.job_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "finished_at": delivery.finished_at,
        "replayed_at": delivery.replayed_at,
    }


def _delivery_of(request, delivery_id: UUID) -> WebhookDelivery:
    # A token acts in one team: another team's delivery is "not found", never "forbidden".
    delivery = (
        WebhookDelivery.objects.select_related("team", "endpoint")
        .filter(pk=delivery_id, team=request.auth.team)
        .first()
    )
    if delivery is None:
        raise ApiError(404, "not_found", "no such webhook delivery in the token's team")
    return delivery


@router.get(
    "/webhooks/deliveries/{delivery_id}",
    response={200: DeliveryOut, **error_responses(404, 422)},
    summary="Get a webhook delivery",
    description="One delivery of the token's team: its state, e.g. to follow a re-send.",
    operation_id="webhook_deliveries_get",
)
def delivery_detail(request, delivery_id: UUID):
    return _payload(_delivery_of(request, delivery_id))


@router.post(
    "/webhooks/deliveries/{delivery_id}/retry",
    response={202: DeliveryOut, **error_responses(403, 404, 409, 422)},
    summary="Re-send a webhook delivery",
    description=(
        "Sends a given-up (`failed`) or `skipped` delivery once more: a new attempt with the "
        "same `webhook-id` and body, a fresh timestamp and signature. Answers 202 with the "
        "delivery, now `pending`; the attempt is made by the worker. Owners and admins of "
        "the token's team only (403 for members). 409 `not_replayable` when the delivery is "
        "pending (a re-send already on its way) or delivered; 409 `endpoint_disabled` while "
        "its endpoint is disabled (enable it on the Integrations page first)."
    ),
    operation_id="webhook_deliveries_retry",
)
def delivery_retry(request, delivery_id: UUID):
    delivery = webhooks.delivery_replay(
        delivery=_delivery_of(request, delivery_id), by=request.auth.user
    )
    return Status(202, _payload(delivery))
