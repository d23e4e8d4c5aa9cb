from __future__ import annotations

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    """Many videos of one template as one unit: each item is an ordinary videos.Job."""

    name = "batches"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from batches import receivers  # noqa: F401  (a batch ends when its last job does)
