"""`Authorization: Bearer vap_...` for the JSON API: `request.auth` is the ApiToken."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from integrations.models import ApiToken
from integrations.services import token_authenticate


class TokenAuth(HttpBearer):
    def __call__(self, request: HttpRequest) -> ApiToken | None:
        # Parsed here rather than by HttpBearer, which logs a malformed header verbatim in
        # DEBUG: the header is a credential.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None  # ninja answers 401 "authentication required"
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = token_authenticate(raw=token)
        if api_token is None:
            raise AuthenticationError(message="this token is unknown or was revoked")
        return api_token
