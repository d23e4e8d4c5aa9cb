from __future__ import annotations

from accounts.selectors import current_team as _current_team


def current_team(request) -> dict:
    return {"current_team": _current_team(request) if hasattr(request, "user") else None}
