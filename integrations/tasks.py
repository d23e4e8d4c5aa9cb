"""django-q2 entry points: thin callers of integrations.webhooks and .health, each safe to
run twice."""

from __future__ import annotations

from integrations import health, webhooks


def deliver(delivery_id: str) -> None:
    webhooks.delivery_attempt(delivery_id=delivery_id)


def endpoint_disabled_notify(endpoint_id: int) -> None:
    health.endpoint_disabled_notify(endpoint_id=endpoint_id)


def sweep() -> int:
    return webhooks.deliveries_sweep() + health.endpoint_notices_sweep()
