from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's app is "Accounts" in the admin too: ours holds the teams and their keys.
    verbose_name = "Teams and keys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from accounts import receivers  # noqa: F401  (every new user gets a personal team)
        from accounts.checks import no_demo_user_in_production

        # Not a deploy-only check: web, worker and migrate refuse to start (accounts/checks.py).
        checks.register(no_demo_user_in_production, checks.Tags.security)

        if settings.VAULT_KEYS_DERIVED:
            logging.getLogger("accounts.vault").warning(
                "VAULT_KEYS is not set: using a development key derived from "
                "DJANGO_SECRET_KEY. Set VAULT_KEYS before storing real provider keys."
            )
