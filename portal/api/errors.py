"""The API's one error shape, `{"detail", "code"}` (plus `field` for bad input), and the map
from domain errors to HTTP answers, installed once on the NinjaAPI (portal/api/v1.py).

Every service refusal is a portal.errors.DomainError carrying its own status, code and
field, so one handler answers them all; the rest here is ninja's and Django's own errors.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from portal.errors import DomainError, FieldError

logger = logging.getLogger(__name__)


class FieldErrorOut(Schema):
    field: str
    message: str
    index: int | None = None  # the item of a list body (`items[3]...`) it is about


class ErrorOut(Schema):
    detail: str
    code: str
    field: str | None = None
    # 422: every bad input, when there are several.
    errors: list[FieldErrorOut] | None = None
    # Quota errors (402): which limit, and when it frees up by itself (null: when a job ends).
    limit: str | None = None
    resets_at: datetime | None = None


class ApiError(DomainError):
    """An answer an endpoint gives on purpose: `raise ApiError(404, "not_found", "...")`."""

    def __init__(self, status: int, code: str, detail: str, *, field: str | None = None):
        super().__init__(detail, field=field, code=code)
        self.status = status


def input_error(field: str, message: str) -> FieldError:
    return FieldError(field, message)


def refuse_unknown_query(request: HttpRequest, *allowed: str) -> None:
    """A misspelt filter (`?statuss=failed`) must not silently widen the answer."""
    for name in request.GET:
        if name not in allowed:
            raise input_error(
                name, f"unknown query parameter; expected one of {', '.join(allowed)}"
            )


def error_responses(*codes: int) -> dict[int, type[ErrorOut]]:
    """Response declarations for an operation: every code it can answer is in the schema
    (401 always: every operation needs a token)."""
    return {code: ErrorOut for code in (401, *codes)}


def _loc_to_field(loc: list | tuple) -> str:
    # ninja: ("body", "payload", "media_inputs", 0, "value") -> "media_inputs[0].value"
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        source = parts.pop(0)
        if source == "body" and parts and parts[0] == "payload":
            parts.pop(0)
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += ("." if field else "") + str(part)
    return field or "body"


def _index_of(field: str) -> dict[str, int]:
    match = re.match(r"items\[(\d+)\]", field)
    return {"index": int(match.group(1))} if match else {}


def _respond(api: NinjaAPI, request: HttpRequest, status: int, **body) -> HttpResponse:
    payload = {key: value for key, value in body.items() if value is not None}
    return api.create_response(request, payload, status=status)


def install(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        # Bad input names its field in the detail too: "media_inputs[0]: the file is empty".
        detail = str(exc)
        response = _respond(
            api, request, exc.status, detail=detail, code=exc.code, field=exc.field, **exc.extra()
        )
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        errors = [
            {"field": _loc_to_field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid input"
        return _respond(
            api,
            request,
            422,
            detail=detail,
            code="invalid",
            field=first["field"],
            # Each error on its own too; an item of a list body (`items[3]...`) with its index.
            errors=[{**e, **_index_of(e["field"])} for e in errors] or None,
        )

    @api.exception_handler(AuthenticationError)
    def unauthorized(request, exc: AuthenticationError):
        detail = exc.message
        if detail == "Unauthorized":  # ninja's own: no Authorization header at all
            detail = "authentication required: send Authorization: Bearer <token>"
        response = _respond(api, request, 401, detail=detail, code="unauthorized")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if isinstance(exc.__cause__, RequestDataTooBig):
            # ninja reports every body it cannot read as 400; too big deserves its own answer.
            return _too_large(request)
        code = "error" if exc.status_code >= 500 else "bad_request"
        return _respond(api, request, exc.status_code, detail=str(exc), code=code)

    def _too_large(request):
        return _respond(api, request, 413, detail="the request body is too large", code="too_large")

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        return _respond(api, request, 404, detail="not found", code="not_found")

    @api.exception_handler(Exception)
    def anything_else(request, exc: Exception):
        if isinstance(exc, RequestDataTooBig):
            return _too_large(request)
        if isinstance(exc, SuspiciousOperation):
            return _respond(api, request, 400, detail="bad request", code="bad_request")
        # Never the exception text: it may hold anything (a URL with a token, an SQL value).
        logger.exception("API error on %s %s", request.method, request.path)
        return _respond(api, request, 500, detail="internal server error", code="server_error")
