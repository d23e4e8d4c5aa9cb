from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.services import vault_rotate_all
from accounts.vault import VaultError
from portal.progress import progress_bar


class Command(BaseCommand):
    help = "Re-encrypt every vault secret under the first VAULT_KEYS entry."

    def handle(self, *args, **options):
        try:
            count = vault_rotate_all(progress=progress_bar("Re-encrypting", self.stderr))
        except VaultError as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} provider key(s)."))
