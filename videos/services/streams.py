"""Open event streams, capped per token and per team across every web worker: one token
cannot hold a site's capacity, and a team's integrations share a fair number of streams.

Each stream holds a row with a lease, renewed while it runs and removed when it ends, so a
web worker that died without cleaning up frees its streams once their leases run out.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Team
from portal.errors import DomainError
from videos.models import OpenStream

LEASE = timedelta(seconds=60)


class TooManyStreams(DomainError):
    status = 429
    code = "too_many_streams"
    retry_after = 30


def stream_open(*, token_id: int, team_id: int, job_id) -> int:
    """Count the stream in, or refuse it (429) over a cap; returns its id."""
    now = timezone.now()
    with transaction.atomic():
        # One opening at a time per team (both caps are within it), so two at once cannot
        # both pass the count; the leases of streams whose worker died are cleared meanwhile.
        Team.objects.select_for_update().filter(pk=team_id).first()
        OpenStream.objects.filter(team_id=team_id, lease_until__lte=now).delete()
        live = OpenStream.objects.filter(lease_until__gt=now)
        per_token = live.filter(token_id=token_id).count()
        if per_token >= settings.SSE_MAX_PER_TOKEN:
            raise TooManyStreams(
                f"this token already has {per_token} event streams open, the most it may; "
                "close one, or follow more videos with GET /api/v1/videos"
            )
        per_team = live.filter(team_id=team_id).count()
        if per_team >= settings.SSE_MAX_PER_TEAM:
            raise TooManyStreams(
                f"your team already has {per_team} event streams open, the most it may"
            )
        stream = OpenStream.objects.create(
            token_id=token_id, team_id=team_id, job_id=job_id, lease_until=now + LEASE
        )
    return stream.pk


def stream_renew(*, stream_id: int) -> None:
    OpenStream.objects.filter(pk=stream_id).update(lease_until=timezone.now() + LEASE)


def streams_renew(*, stream_ids: list[int]) -> None:
    """Every open stream of a web process at once (videos.sse_hub)."""
    OpenStream.objects.filter(pk__in=stream_ids).update(lease_until=timezone.now() + LEASE)


def stream_close(*, stream_id: int) -> None:
    OpenStream.objects.filter(pk=stream_id).delete()
