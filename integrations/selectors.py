"""Reads for tokens and the webhook delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Membership, Role, Team
from integrations.models import ApiToken, WebhookDelivery


def tokens_for_user(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).select_related("team").order_by("-created_at")


def deliveries_for_team(*, team: Team) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(team=team)
        .select_related("job__template")
        .prefetch_related("attempt_log")
        .order_by("-created_at")
    )


def can_manage_webhooks(*, user, team: Team) -> bool:
    """Owners and admins see and rotate the signing secret; members see its last 4."""
    return Membership.objects.filter(
        team=team, user=user, role__in=[Role.OWNER, Role.ADMIN]
    ).exists()
