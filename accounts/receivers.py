from __future__ import annotations

from allauth.account.signals import user_logged_in as allauth_user_logged_in
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authentication_failed, authenticator_added, authenticator_removed
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts import audit
from accounts.adapter import _account_named
from accounts.models import AuditAction
from accounts.selectors import current_team
from accounts.services import team_create_personal


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_user_a_personal_team(sender, instance, created: bool, raw: bool = False, **kwargs):
    # However the user is created (sign-up, createsuperuser, admin, API), they get a team.
    if created and not raw:
        team_create_personal(user=instance)


# --- The audit log: acts that happen inside allauth and Django's auth, not in a service ---


@receiver(allauth_user_logged_in)
def audit_signed_in(sender, request, user, **kwargs):
    # allauth's signal, sent once the whole sign-in is done (after the second factor, when
    # there is one); Django's own fires on every login(), test helpers and the admin too.
    team = current_team(request) if request is not None else None
    audit.record(
        AuditAction.SIGNIN_SUCCEEDED,
        actor=user,
        team=team,
        target=f'account "{user.get_username()}"',
        ip=audit.client_ip(request),
    )


@receiver(user_login_failed)
def audit_sign_in_failed(sender, credentials, request=None, **kwargs):
    # Anonymous and teamless. What was typed is kept only when it names an account: people
    # type their password into the login field, and an unknown name would store it.
    login = str(credentials.get("email") or credentials.get("username") or "").strip()
    account = _account_named(login)
    name = (
        get_user_model().objects.filter(pk=account).values_list("username", flat=True).first()
        if account is not None
        else None
    )
    audit.record(
        AuditAction.SIGNIN_FAILED,
        actor=None,
        team=None,
        target=f'account "{name}"' if name else "unknown account",
        ip=audit.client_ip(request),
    )


@receiver(authentication_failed)
def audit_second_factor_failed(sender, request, user, authenticator, **kwargs):
    if kwargs.get("reauthentication"):
        return  # a signed-in user re-entering a code, not a sign-in
    audit.record(
        AuditAction.SIGNIN_FAILED,
        actor=None,
        team=None,
        target=f'account "{user.get_username()}" (second factor)',
        ip=audit.client_ip(request),
    )


def _is_second_factor(authenticator) -> bool:
    # Recovery codes come and go with the authenticator app (allauth sends a signal for
    # each): only the app itself turns two-factor on or off.
    return authenticator.type != Authenticator.Type.RECOVERY_CODES


@receiver(authenticator_added)
def audit_mfa_enabled(sender, request, user, authenticator, **kwargs):
    if _is_second_factor(authenticator):
        _audit_mfa(AuditAction.MFA_ENABLED, request, user, authenticator)


@receiver(authenticator_removed)
def audit_mfa_disabled(sender, request, user, authenticator, **kwargs):
    if _is_second_factor(authenticator):
        _audit_mfa(AuditAction.MFA_DISABLED, request, user, authenticator)


def _audit_mfa(action: str, request, user, authenticator) -> None:
    audit.record(
        action,
        actor=user,
        team=current_team(request) if request is not None else None,
        target=f'account "{user.get_username()}" ({authenticator.get_type_display()})',
        ip=audit.client_ip(request),
    )
