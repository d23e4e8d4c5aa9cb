"""How allauth treats our accounts, where its defaults do not fit."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import filter_users_by_email
from django.contrib.auth import get_user_model
from django.contrib.sites.shortcuts import get_current_site


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request, **credentials: Any) -> str:
        """The key of the per-account half of the `login_failed` rate limit.

        allauth keys it by what was typed, so one account would get its allowance once as
        "olga" and again as "olga@example.com". Both name the same account here; a login
        that names no account keeps its own key (guessing at unknown names is throttled too).
        Used for the count and for clearing it after a password reset, so both agree.
        """
        login = str(credentials.get("email") or credentials.get("username") or "").strip()
        account = _account_named(login)
        key = f"user:{account}" if account is not None else login.lower()
        return f"{get_current_site(request).domain}:{key}"


def _account_named(login: str) -> int | None:
    if not login:
        return None
    if "@" in login:  # allauth reads such a login as an email address too
        users = filter_users_by_email(login, prefer_verified=True)
        return users[0].pk if users else None
    user_model = get_user_model()
    return (
        user_model._default_manager.filter(**{f"{user_model.USERNAME_FIELD}__iexact": login})
        .values_list("pk", flat=True)
        .first()
    )
