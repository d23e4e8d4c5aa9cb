"""Worker tasks of the batches app (django-q2): thin callers of the services."""

from __future__ import annotations

from batches import services


def sweep() -> int:
    """Once a minute (migration 0002): finish batches whose end was not noticed."""
    return services.batches_sweep()
