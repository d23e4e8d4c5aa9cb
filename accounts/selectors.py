"""Reads for teams and keys."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db.models import Case, Exists, OuterRef, QuerySet, Value, When

from accounts.models import Invitation, Membership, ProviderKey, Role, Team

SESSION_TEAM_KEY = "team_id"


def teams_for_user(*, user) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).order_by("name")


def current_team(request) -> Team | None:
    """The team the signed-in user is working in: the one chosen in the session, else personal.

    Looked up once per request (the two-factor middleware and the page's team pill both ask);
    asked again if the request switched team or user meanwhile.
    """
    user = request.user
    if not user.is_authenticated:
        return None
    team_id = request.session.get(SESSION_TEAM_KEY)
    asked = (user.pk, team_id)
    cached = getattr(request, "_current_team", None)
    if cached is not None and cached[0] == asked:
        return cached[1]
    team = _current_team_of(user, team_id)
    request._current_team = (asked, team)
    return team


def _current_team_of(user, team_id) -> Team | None:
    teams = teams_for_user(user=user)
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


def team_for_member(*, user, team_id: int, enforce_mfa: bool = True) -> Team:
    """One of the user's teams, else 404 (another team's pages never say it exists).
    A team that requires two-factor is the member's only once they have it (TeamRequiresMfa),
    whichever team they are working in; `enforce_mfa=False` for the team switcher only."""
    from django.shortcuts import get_object_or_404

    team = get_object_or_404(teams_for_user(user=user), pk=team_id)
    if enforce_mfa:
        require_team_mfa(user=user, team=team)
    return team


class TeamRequiresMfa(Exception):
    """The member has no two-factor authentication and the team requires it: the page sends
    them to set it up (accounts.middleware)."""

    def __init__(self, team: Team):
        super().__init__(team.name)
        self.team = team


def require_team_mfa(*, user, team: Team) -> None:
    """Raise TeamRequiresMfa for a member without two-factor of a team that requires it: an
    object of that team (a job, a file, a statement) is read only by members who have it,
    also by a member working in another of their teams."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    if team.require_mfa and not is_mfa_enabled(user, types=[Authenticator.Type.TOTP]):
        raise TeamRequiresMfa(team)


def membership_of(*, team: Team, user) -> Membership | None:
    return Membership.objects.filter(team=team, user=user).first()


def members_of(*, team: Team) -> QuerySet[Membership]:
    rank = Case(
        When(role=Role.OWNER, then=Value(0)),
        When(role=Role.ADMIN, then=Value(1)),
        default=Value(2),
    )
    # has_mfa: shown to the team's owners next to each member (they may require it).
    has_mfa = Exists(
        Authenticator.objects.filter(user=OuterRef("user"), type=Authenticator.Type.TOTP)
    )
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .annotate(has_mfa=has_mfa)
        .order_by(rank, "user__username")
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


def has_verified_email(*, user, email: str) -> bool:
    """The user confirmed this address (allauth's EmailAddress), not merely typed it."""
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def email_state(*, user, email: str) -> str | None:
    """ "verified", "unverified" (on the account, not confirmed yet) or None (not theirs)."""
    if has_verified_email(user=user, email=email):
        return "verified"
    on_account = EmailAddress.objects.filter(user=user, email__iexact=email).exists()
    if on_account or (user.email or "").strip().lower() == email.strip().lower():
        return "unverified"
    return None
