"""Writes for teams, memberships and invitations (vault keys: videos.services.keys, which
knows the providers a key is for)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import audit, vault
from accounts.models import AuditAction, Invitation, Membership, ProviderKey, Role, Team
from accounts.selectors import has_verified_email
from accounts.signals import team_created
from portal.errors import DomainError, FieldError, PermissionDeniedError


class TeamInputError(FieldError):
    """Bad input for a team change: `field` names the input, the message says why."""


class TeamPermissionError(PermissionDeniedError):
    """The user's role in the team does not allow this (403)."""


class InvitationError(DomainError):
    """The invitation link cannot be used (expired, used, revoked, meant for someone else)."""

    code = "invitation_unusable"


MANAGER_ROLES: tuple[str, ...] = (Role.OWNER, Role.ADMIN)


# --- Teams --------------------------------------------------------------------------------


def team_create_personal(*, user) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=f"{user.get_username()}'s team", personal_for=user)
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
        team_created.send(sender=Team, team=team)  # billing gives it its plan
    return team


def team_create(*, name: str, owner) -> Team:
    """A shared team, its creator its first owner, on the default plan."""
    name = (name or "").strip()
    if not name:
        raise TeamInputError("name", "a team name is required")
    if len(name) > 100:
        raise TeamInputError("name", "at most 100 characters")
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(team=team, user=owner, role=Role.OWNER)
        team_created.send(sender=Team, team=team)
    return team


def team_require_mfa(*, team: Team, by, required: bool) -> Team:
    """Owners turn the team's two-factor requirement on or off. Once on, a member without it
    is sent to set it up before working in the team (accounts.middleware)."""
    membership = Membership.objects.filter(team=team, user=by).first()
    if membership is None or membership.role != Role.OWNER:
        raise TeamPermissionError("only the team's owners can require two-factor authentication")
    Team.objects.filter(pk=team.pk).update(require_mfa=bool(required))
    team.refresh_from_db(fields=["require_mfa"])
    return team


def require_manager(*, team: Team, user) -> Membership:
    """The user's membership if they are an owner or admin of the team, else raise."""
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None or membership.role not in MANAGER_ROLES:
        raise TeamPermissionError("only the team's owners and admins can do this")
    return membership


def _lock_team(team_id: int) -> None:
    # Role changes and removals of one team run one at a time, so two owners demoting each
    # other at once cannot leave the team without an owner.
    Team.objects.select_for_update(no_key=True).filter(pk=team_id).first()


def _owners_left(team_id: int, *, without: Membership) -> int:
    return (
        Membership.objects.filter(team_id=team_id, role=Role.OWNER).exclude(pk=without.pk).count()
    )


def membership_change_role(
    *, membership: Membership, role: str, by, ip: str | None = None
) -> Membership:
    """Owners change any role; admins move people between member and admin only."""
    if role not in Role.values:
        raise TeamInputError("role", f"unknown role; choose one of {', '.join(Role.values)}")
    with transaction.atomic():
        _lock_team(membership.team_id)
        actor = require_manager(team=membership.team, user=by)
        membership.refresh_from_db()
        touches_owner = Role.OWNER in (membership.role, role)
        if touches_owner and actor.role != Role.OWNER:
            raise TeamPermissionError("only an owner can make or unmake owners")
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and not _owners_left(
            membership.team_id, without=membership
        ):
            raise TeamInputError(
                "role", "a team needs at least one owner; make someone else owner first"
            )
        Membership.objects.filter(pk=membership.pk).update(role=role)
        audit.record(
            AuditAction.MEMBER_ROLE_CHANGED,
            actor=by,
            team=membership.team,
            target=f'member "{membership.user.get_username()}"',
            ip=ip,
            data={"from": membership.role, "to": role},
        )
    membership.refresh_from_db()
    return membership


def membership_remove(*, membership: Membership, by, ip: str | None = None) -> None:
    """Managers remove others (admins cannot remove owners); anyone may leave by themselves."""
    with transaction.atomic():
        _lock_team(membership.team_id)
        membership.refresh_from_db()
        if membership.user_id != by.pk:
            actor = require_manager(team=membership.team, user=by)
            if membership.role == Role.OWNER and actor.role != Role.OWNER:
                raise TeamPermissionError("only an owner can remove an owner")
        if membership.role == Role.OWNER and not _owners_left(
            membership.team_id, without=membership
        ):
            raise TeamInputError(
                "member", "a team needs at least one owner; make someone else owner first"
            )
        membership.delete()
        audit.record(
            AuditAction.MEMBER_REMOVED,
            actor=by,
            team=membership.team,
            target=f'member "{membership.user.get_username()}"',
            ip=ip,
            data={"role": membership.role, "left": membership.user_id == by.pk},
        )


# --- Invitations --------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(
    *,
    team: Team,
    by,
    email: str,
    role: str = Role.MEMBER,
    base_url: str,
    ip: str | None = None,
) -> tuple[Invitation, str]:
    """Invite an address to the team; returns the invitation and its link (shown once).

    Inviting an address again replaces its open invitation (the old link stops working).
    The email is sent once the invitation is committed.
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise TeamInputError("email", "enter a valid email address") from None
    if role not in (Role.MEMBER, Role.ADMIN):
        raise TeamInputError("role", "invite as member or admin; make owners once they joined")
    require_manager(team=team, user=by)
    if Membership.objects.filter(team=team, user__email__iexact=email).exists():
        raise TeamInputError("email", "someone with this address is already in the team")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    try:
        with transaction.atomic():
            Invitation.objects.filter(
                team=team, email=email, accepted_at__isnull=True, revoked_at__isnull=True
            ).update(revoked_at=now)
            invitation = Invitation.objects.create(
                team=team,
                email=email,
                role=role,
                token_hash=_token_hash(token),
                invited_by=by,
                expires_at=now + timedelta(days=settings.INVITATION_EXPIRY_DAYS),
            )
            link = base_url.rstrip("/") + reverse("accounts:invitation", args=[token])
            audit.record(  # the address, never the link: the link is the invitation's key
                AuditAction.INVITATION_SENT,
                actor=by,
                team=team,
                target=f'invitation of "{email}"',
                ip=ip,
                data={"role": role},
            )
            transaction.on_commit(lambda: _invitation_send(invitation, link, by))
    except IntegrityError:  # the same address invited twice at the same moment
        raise TeamInputError("email", "this address was just invited; try again") from None
    return invitation, link


def _invitation_send(invitation: Invitation, link: str, by) -> None:
    days = settings.INVITATION_EXPIRY_DAYS
    send_mail(
        subject=f"Join {invitation.team.name} on Video Agent Portal",
        message=(
            f"{by.get_username()} invited you to the team “{invitation.team.name}” as "
            f"{invitation.get_role_display().lower()}.\n\n"
            f"Accept within {days} days (the link works once):\n{link}\n\n"
            "Sign in (or sign up) with this email address to accept.\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitation_for_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("team", "invited_by")
        .filter(token_hash=_token_hash(token or ""))
        .first()
    )


def invitation_accept(*, token: str, user, ip: str | None = None) -> Membership:
    """Join the team as the invited role. The link works once, before it expires, and only
    for an account that has verified the invited email address (anyone can type an address
    into a profile; only its owner can click the confirmation link sent to it)."""
    invitation = invitation_for_token(token)
    if invitation is None:
        raise InvitationError("This invitation link is not valid.")
    now = timezone.now()
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.")
    if invitation.revoked_at is not None:
        raise InvitationError("This invitation was withdrawn; ask for a new one.")
    if invitation.expires_at <= now:
        raise InvitationError("This invitation has expired; ask for a new one.")
    if not has_verified_email(user=user, email=invitation.email):
        raise InvitationError(
            f"This invitation was sent to {_mask_email(invitation.email)}. Sign in with the "
            "account that has verified this email address (or add it to your account and "
            "confirm it) to accept it."
        )
    if Membership.objects.filter(team=invitation.team, user=user).exists():
        raise InvitationError(f"You are already a member of {invitation.team.name}.")
    try:
        with transaction.atomic():
            # The claim: of two clicks at once, exactly one moves the row.
            claimed = Invitation.objects.filter(
                pk=invitation.pk,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
            ).update(accepted_at=now, accepted_by=user)
            if not claimed:
                raise InvitationError("This invitation has already been used.")
            membership = Membership.objects.create(
                team=invitation.team, user=user, role=invitation.role
            )
            audit.record(
                AuditAction.INVITATION_ACCEPTED,
                actor=user,
                team=invitation.team,
                target=f'invitation of "{invitation.email}"',
                ip=ip,
                data={"role": invitation.role},
            )
            return membership
    except IntegrityError:  # added to the team some other way meanwhile; the claim rolls back
        raise InvitationError(f"You are already a member of {invitation.team.name}.") from None


def invitation_revoke(*, invitation: Invitation, by) -> bool:
    if not getattr(by, "is_staff", False):  # staff withdraw from the admin
        require_manager(team=invitation.team, user=by)
    return bool(
        Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
    )


def _mask_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}{'•' * max(1, len(name) - 1)}@{domain}"


def vault_rotate_all(*, progress=None) -> int:
    """Re-encrypt every stored secret under the first VAULT_KEYS entry; returns the count.

    All or nothing: one secret that no key decrypts rolls the whole rotation back.
    `progress(done, total)` is called after each key (the command draws a bar with it).
    """
    with transaction.atomic():
        keys = list(ProviderKey.objects.select_for_update().only("pk", "secret_encrypted"))
        for done, key in enumerate(keys, start=1):
            rotated = vault.rotate(key.secret_encrypted)
            ProviderKey.objects.filter(pk=key.pk).update(secret_encrypted=rotated)
            if progress:
                progress(done, len(keys))
    return len(keys)
