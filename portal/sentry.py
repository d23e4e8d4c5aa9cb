"""Optional error reporting to Sentry (SENTRY_DSN); nothing at all when it is unset.

What leaves the site is the exception's type, its message and the stack's file names and
lines, redacted like the logs (portal.logging.redact): no request headers, cookies, bodies or
query strings (they carry tokens, callback capabilities, uploads), no local variables of the
frames (a vault secret can be one), no user beyond an id.
"""

from __future__ import annotations

from typing import Any

from portal.logging import redact

# Request fields Sentry's Django integration fills that may hold a secret.
_REQUEST_DROP = ("headers", "cookies", "data", "query_string", "env")


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        for field in _REQUEST_DROP:
            request.pop(field, None)
        if isinstance(request.get("url"), str):
            request["url"] = redact(request["url"])  # the path may hold a callback token
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = redact(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        for field in ("message", "formatted"):
            if isinstance(logentry.get(field), str):
                logentry[field] = redact(logentry[field])
        logentry.pop("params", None)
    if isinstance(event.get("message"), str):
        event["message"] = redact(event["message"])
    event.pop("extra", None)
    # Breadcrumbs repeat log lines and SQL with parameters: none are sent.
    event.pop("breadcrumbs", None)
    return event


def init(dsn: str, *, environment: str, release: str) -> None:
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        max_breadcrumbs=0,
        traces_sample_rate=0.0,
        before_send=before_send,  # type: ignore[arg-type]
    )
