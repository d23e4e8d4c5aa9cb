from __future__ import annotations

from django.core.management.base import BaseCommand

from videos.services.posters import posters_backfill


class Command(BaseCommand):
    help = (
        "Give files stored before posters their poster: covers as WebP with their size, "
        "clips as short loops, a poster frame for every stored video. Safe to run again."
    )

    def handle(self, *args, **options):
        counts = posters_backfill()
        self.stdout.write(
            self.style.SUCCESS(
                f"{counts.covers} cover(s), {counts.previews} preview(s), "
                f"{counts.posters} video poster(s) made; {counts.broken} file(s) do not decode."
            )
        )
