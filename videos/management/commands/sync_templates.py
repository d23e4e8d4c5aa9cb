from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from videos.providers import PROVIDERS
from videos.services import CatalogueSyncError, templates_sync


class Command(BaseCommand):
    help = "Read a provider's own template listing into the catalogue (also runs daily)."

    def add_arguments(self, parser):
        parser.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
        parser.add_argument("--key", type=int, help="the vault key to read it with (id)")

    def handle(self, *args, provider: str, key: int | None, **options):
        try:
            counts = templates_sync(provider=provider, key_id=key)
        except CatalogueSyncError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{provider}: {counts.created} new, {counts.updated} updated template(s); "
                f"{counts.hidden} hidden until staff set their inputs."
            )
        )
