"""System checks of accounts, run at every start of the web server (runserver, and `manage.py
check --deploy` in the release step), of each worker (`manage.py qcluster`) and of migrate."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error
from django.db import DatabaseError

# The documented demo login (videos/management/commands/seed_demo.py, README): anyone can
# sign in with it, so it must never exist where DEBUG is off.
DEMO_USERNAME = "demo"


def no_demo_user_in_production(app_configs=None, **kwargs) -> list[Error]:
    """Error when DEBUG is off and the demo user exists.

    Registered without the `deploy` tag, so it runs at every start, not only under
    `check --deploy`. A database that is not reachable, or not migrated yet, holds no demo
    user: the check stays quiet then (readiness and migrate speak for the database).
    """
    if settings.DEBUG:
        return []
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    try:
        present = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: DEMO_USERNAME}
        ).exists()
    except DatabaseError:
        return []
    if not present:
        return []
    return [
        Error(
            f"The demo user “{DEMO_USERNAME}” exists, and DJANGO_DEBUG is false: its password "
            "is published, so anyone could sign in.",
            hint=(
                'Delete it (manage.py shell -c "from django.contrib.auth.models import User; '
                f"User.objects.filter(username='{DEMO_USERNAME}').delete()\"). seed_demo is "
                "for development only."
            ),
            id="accounts.E001",
        )
    ]
