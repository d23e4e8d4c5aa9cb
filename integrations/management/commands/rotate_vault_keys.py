from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.services import vault_rotate_all
from accounts.vault import VaultError
from integrations.services import webhook_secrets_vault_rotate_all
from portal.progress import progress_bar


# In integrations, the app above both kinds of secret it rotates (accounts: vault keys).
class Command(BaseCommand):
    help = "Re-encrypt provider keys and webhook secrets under the first VAULT_KEYS entry."

    def handle(self, *args, **options):
        try:
            # All or nothing: after a partial rotation, dropping the old key would lose secrets.
            with transaction.atomic():
                keys = vault_rotate_all(progress=progress_bar("Re-encrypting", self.stderr))
                secrets = webhook_secrets_vault_rotate_all()
        except VaultError as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {keys} provider key(s) and {secrets} webhook secret(s)."
            )
        )
