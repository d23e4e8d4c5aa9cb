"""Reads for teams and keys."""

from __future__ import annotations

from django.db.models import Case, QuerySet, Value, When

from accounts.models import Invitation, KeyStatus, Membership, ProviderKey, Role, Team

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


def current_team_required(request) -> Team:
    """The current team of a signed-in page's user; 404 for someone without any team."""
    from django.http import Http404

    team = current_team(request)
    if team is None:
        raise Http404("no team")
    return team


def keys_for_user(*, user) -> QuerySet[ProviderKey]:
    return ProviderKey.objects.filter(user=user).order_by("-created_at")


def key_default(*, user, provider: str, region: str) -> ProviderKey | None:
    """The newest active key of the user for this provider and region."""
    return (
        keys_for_user(user=user)
        .filter(provider=provider, region=region, status=KeyStatus.ACTIVE)
        .first()
    )


def team_for_member(*, user, team_id: int) -> Team:
    """One of the user's teams, else 404 (another team's pages never say it exists)."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(teams_for_user(user=user), pk=team_id)


def membership_of(*, team: Team, user) -> Membership | None:
    return Membership.objects.filter(team=team, user=user).first()


def members_of(*, team: Team) -> QuerySet[Membership]:
    rank = Case(
        When(role=Role.OWNER, then=Value(0)),
        When(role=Role.ADMIN, then=Value(1)),
        default=Value(2),
    )
    return (
        Membership.objects.filter(team=team).select_related("user").order_by(rank, "user__username")
    )


def invitations_open(*, team: Team) -> QuerySet[Invitation]:
    """Invitations not accepted or withdrawn (expired ones too, so they can be re-sent)."""
    return Invitation.objects.filter(
        team=team, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def is_manager(*, team: Team, user) -> bool:
    """An owner or admin of the team (they manage members, the plan, shared keys)."""
    return Membership.objects.filter(
        team=team, user=user, role__in=[Role.OWNER, Role.ADMIN]
    ).exists()
