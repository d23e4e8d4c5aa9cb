"""Reads for tokens, the webhook delivery log and the team's webhook endpoints."""

from __future__ import annotations

from django.db.models import F, QuerySet

from accounts.models import Membership, Role, Team
from integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint


def tokens_for_user(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).select_related("team").order_by("-created_at")


def deliveries_for_team(*, team: Team) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(team=team)
        .select_related("job__template", "endpoint")
        .prefetch_related("attempt_log")
        .order_by("-created_at")
    )


def endpoints_for_team(*, team: Team) -> QuerySet[WebhookEndpoint]:
    """The team's endpoints, disabled ones first (they need someone), then the newest."""
    return WebhookEndpoint.objects.filter(team=team).order_by(
        F("disabled_at").desc(nulls_last=True), "-created_at"
    )


def can_manage_webhooks(*, user, team: Team) -> bool:
    """Owners and admins see and rotate the signing secret; members see its last 4."""
    return Membership.objects.filter(
        team=team, user=user, role__in=[Role.OWNER, Role.ADMIN]
    ).exists()
