from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The JSON API's supporting parts: access tokens, outgoing webhooks, API error handling."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations import receivers  # noqa: F401  (webhooks follow job status changes)
