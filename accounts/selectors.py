"""Reads for teams and keys."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import KeyStatus, ProviderKey, Team

SESSION_TEAM_KEY = "team_id"


def teams_for_user(*, user) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).order_by("name")


def current_team(request) -> Team | None:
    """The team the signed-in user is working in: the one chosen in the session, else personal."""
    user = request.user
    if not user.is_authenticated:
        return None
    teams = teams_for_user(user=user)
    team_id = request.session.get(SESSION_TEAM_KEY)
    if team_id:
        team = teams.filter(pk=team_id).first()
        if team:
            return team
    return teams.filter(personal_for=user).first() or teams.first()


def keys_for_user(*, user) -> QuerySet[ProviderKey]:
    return ProviderKey.objects.filter(user=user).order_by("-created_at")


def key_default(*, user, provider: str, region: str) -> ProviderKey | None:
    """The newest active key of the user for this provider and region."""
    return (
        keys_for_user(user=user)
        .filter(provider=provider, region=region, status=KeyStatus.ACTIVE)
        .first()
    )
