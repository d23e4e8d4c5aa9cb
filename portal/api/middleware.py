"""Under /api/ every error is JSON `{"detail", "code"}`, even the ones Django itself makes.

The API's own errors are mapped in portal.api.errors; this catches what never reaches
ninja: an unknown path (Django's 404 page), a method a path does not allow (ninja's plain-text
405), and Django's 500 page.
"""

from __future__ import annotations

from http import HTTPStatus

from django.http import JsonResponse

API_PREFIX = "/api/"
# Headers a client still needs from the original answer (Allow on 405, auth challenge on 401).
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return json_error_for(response)
        return response


def json_error_for(response) -> JsonResponse:
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    replacement = JsonResponse(
        {"detail": phrase, "code": phrase.lower().replace(" ", "_").replace("-", "_")},
        status=status,
    )
    for header in KEPT_HEADERS:
        if header in response:
            replacement[header] = response[header]
    return replacement
