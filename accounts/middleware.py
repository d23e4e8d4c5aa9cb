"""Teams that require two-factor authentication: their members set it up before working."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect

from accounts.selectors import TeamRequiresMfa, current_team, require_team_mfa

# Pages that stay open to a member who must set up two-factor first: allauth's own (sign-in,
# sign-out, email, password, the two-factor setup and the re-authentication it asks for) and
# the team switcher (working in another team is no way round: that team's own rule applies).
_OPEN_URL_NAME_PREFIXES = ("account_", "mfa_", "socialaccount_")
_OPEN_VIEWS = {"accounts:team_switch"}
# The JSON API authenticates by token, per request, and is not a session's page.
_OPEN_PATH_PREFIXES = ("/api/",)


class TeamMfaRequiredMiddleware:
    """After AuthenticationMiddleware, allauth's AccountMiddleware and MessageMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or self._is_open(request):
            return None
        team = current_team(request)
        if team is None:
            return None
        try:
            require_team_mfa(user=user, team=team)
        except TeamRequiresMfa as exc:
            return self.process_exception(request, exc)
        return None

    def process_exception(self, request, exception):
        """Also where a view reached another team's object (a job page opened by its link)
        whose team requires two-factor: accounts.selectors.require_team_mfa."""
        if not isinstance(exception, TeamRequiresMfa):
            return None
        messages.warning(
            request,
            f"“{exception.team.name}” requires two-factor authentication: set up an "
            "authenticator app to go on working in it.",
        )
        return redirect("mfa_activate_totp")

    def _is_open(self, request) -> bool:
        path = request.path_info
        if path.startswith(self.static_prefix) or path.startswith(_OPEN_PATH_PREFIXES):
            return True
        match = request.resolver_match
        if match is None:
            return False
        if match.view_name in _OPEN_VIEWS:
            return True
        return (
            not match.namespaces
            and bool(match.url_name)
            and match.url_name.startswith(_OPEN_URL_NAME_PREFIXES)
        )
