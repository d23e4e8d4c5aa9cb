from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from accounts.selectors import current_team as _current_team
from accounts.selectors import teams_for_user


def current_team(request) -> dict:
    if not hasattr(request, "user"):
        return {"current_team": None, "my_teams": []}
    # Lazy: pages that never show the team (the admin, the dashboard) never run the queries.
    return {
        "current_team": SimpleLazyObject(lambda: _current_team(request)),
        "my_teams": SimpleLazyObject(
            lambda: list(teams_for_user(user=request.user)) if request.user.is_authenticated else []
        ),
    }
