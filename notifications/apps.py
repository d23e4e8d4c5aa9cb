from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What users are told, in the portal and by email: jobs, keys, the team's budget.

    At the top of the layers: nothing imports it. It follows the others through their
    signals (connected here), shows the bell through a context processor and serves its
    pages from portal/urls.py."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import receivers  # noqa: F401  (jobs, keys and budgets notify)
