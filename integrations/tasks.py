"""django-q2 entry points: thin callers of integrations.webhooks, each safe to run twice."""

from __future__ import annotations

from integrations import webhooks


def deliver(delivery_id: str) -> None:
    webhooks.delivery_attempt(delivery_id=delivery_id)


def sweep() -> int:
    return webhooks.deliveries_sweep()
