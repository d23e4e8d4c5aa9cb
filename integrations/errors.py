"""Refusals of the webhook actions (portal.errors maps them to pages and API answers)."""

from __future__ import annotations

from portal.errors import ConflictError, FieldError


class WebhookInputError(FieldError):
    """Bad input (a test event's URL): `field` names it, the message says why."""


class DeliveryNotReplayableError(ConflictError):
    """Only a given-up or skipped delivery can be re-sent; this one is pending or delivered."""

    code = "not_replayable"


class EndpointDisabledError(ConflictError):
    """The endpoint is disabled: nothing is sent to it until an owner or admin enables it."""

    code = "endpoint_disabled"


class EndpointNotDisabledError(ConflictError):
    code = "endpoint_enabled"
