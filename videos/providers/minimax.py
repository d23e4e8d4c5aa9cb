"""MiniMax's official Video Agent API (api.minimax.io, api.minimaxi.com).

Every v1 answer is HTTP 200; the outcome is `base_resp.status_code` (0 = ok), even for a
missing key (upstream FACTS, "Every v1 answer is HTTP 200"). Errors are classified here once
(upstream FACTS, "Error codes"): transient ones are retried later by the caller, permanent
ones end the job.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

import requests
from django.conf import settings

from portal.errors import FieldError
from portal.logging import redact
from videos.providers import http
from videos.providers.base import (
    CallbackHint,
    CallbackReply,
    CatalogueEntry,
    Credentials,
    ImageRules,
    InputRules,
    KeyLimits,
    MediaInput,
    Progress,
    Provider,
    Region,
    ResultStream,
    State,
    SubmitRequest,
    Submitted,
)
from videos.providers.errors import (
    AmbiguousCreate,
    CallbackUnreachable,
    CredentialsRejected,
    InsufficientBalance,
    Moderated,
    PermanentError,
    RateLimited,
    TransientError,
    UpstreamError,
)

logger = logging.getLogger(__name__)

# Retry later: the upstream is busy or hiccuped.
TRANSIENT_CODES = {1000, 1001, 1024, 1033, 1041}
# Retry later, and not too soon: rate or usage limits (seconds to wait at least).
RATE_LIMIT_CODES = {1002: 60, 2045: 120, 2056: 1800}
# The key itself is bad: stop using it.
KEY_REJECTED_CODES = {1004, 2049}
BALANCE_CODES = {1008}
MODERATION_CODES = {1026, 1027}

MESSAGES = {
    1000: "The upstream reported an unknown error.",
    1001: "The upstream timed out.",
    1002: "The upstream rate limit was hit.",
    1004: "The upstream rejected the API key (authentication failed).",
    1008: "The upstream account has insufficient balance.",
    1024: "The upstream reported an internal error.",
    1026: "The text or image was flagged as sensitive by the upstream.",
    1027: "The generated video was flagged as sensitive by the upstream.",
    1033: "The upstream reported a system error.",
    1039: "The upstream token limit was exceeded.",
    1041: "The upstream connection limit was reached.",
    1042: "The text contains invisible characters.",
    2013: "The upstream refused the parameters.",
    2038: "The upstream account needs real-name verification.",
    2045: "The upstream rate growth limit was hit.",
    2049: "The upstream says the API key is invalid.",
    2056: "The upstream usage limit for this 5-hour window was reached.",
}

# Case-insensitive, and both the query spellings (Preparing Processing Success Fail) and the
# callback spellings (processing success failed); a client comparing against "Failed" only
# would miss "Fail" (upstream FACTS, "Other clients of this API").
STATES = {
    "preparing": State.PENDING,
    "queueing": State.PENDING,
    "processing": State.RUNNING,
    "success": State.SUCCEEDED,
    "succeeded": State.SUCCEEDED,
    "fail": State.FAILED,
    "failed": State.FAILED,
}

# Keys are `sk-api-...` (pay as you go) or `sk-cp-...` (subscription); other shapes may come,
# so only what can never be a key is refused: spaces, non-ASCII, absurd lengths.
_SECRET = re.compile(r"[!-~]{8,4096}")


def parse_state(raw: str) -> State | None:
    return STATES.get((raw or "").strip().lower())


def classify(code: int, message: str, trace_id: str) -> UpstreamError:
    text = MESSAGES.get(code, "The upstream refused the request.")
    if message:
        text = f"{text} ({message})"
    if code in KEY_REJECTED_CODES:
        return CredentialsRejected(str(code), text, trace_id=trace_id)
    if code in BALANCE_CODES:
        return InsufficientBalance(str(code), text, trace_id=trace_id)
    if code in MODERATION_CODES:
        return Moderated(str(code), text, trace_id=trace_id)
    if code in RATE_LIMIT_CODES:
        return RateLimited(str(code), text, trace_id=trace_id, retry_after=RATE_LIMIT_CODES[code])
    if code in TRANSIENT_CODES:
        return TransientError(str(code), text, trace_id=trace_id)
    if code == 2013 and "callback" in message.lower():
        # "callback_url verification failed": our challenge echo did not come back in 3 s
        # (upstream FACTS, "Callback") - a slow moment of ours, not the job's end.
        return CallbackUnreachable(str(code), text, trace_id=trace_id)
    return PermanentError(str(code), text, trace_id=trace_id)


class _Client:
    """One key's calls to one site; never shows the key, not even in a traceback's locals."""

    def __init__(self, credentials: Credentials):
        site = settings.MINIMAX_CN_BASE_URL if credentials.region == "cn" else None
        self.base_url = (site or settings.MINIMAX_BASE_URL).rstrip("/")
        self._secret = credentials.secret
        self.session = http.new_session()

    def __repr__(self) -> str:
        return f"MiniMaxClient({self.base_url!r})"

    def call(
        self, method: str, path: str, *, create: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        with http.observed("minimax"):
            return self._call(method, path, create=create, **kwargs)

    def _call(
        self, method: str, path: str, *, create: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        timeout = settings.UPSTREAM_CREATE_TIMEOUT if create else settings.UPSTREAM_TIMEOUT
        headers = {"Authorization": f"Bearer {self._secret}"}
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", headers=headers, timeout=timeout, **kwargs
            )
        except (UnicodeError, requests.exceptions.InvalidHeader):
            # A secret that cannot go into an HTTP header (non-Latin-1, a line break): its
            # message would quote the header. check_credentials refuses those at save; an
            # older one ends the job rather than retrying forever.
            raise CredentialsRejected(
                "secret", "The API key has characters HTTP cannot send."
            ) from None
        except requests.RequestException as error:
            raise http.network_error(error, create=create, name="MiniMax") from None
        trace_id = response.headers.get("Trace-Id", "")
        logger.info(
            "minimax %s %s -> HTTP %s trace_id=%s",
            method,
            path,
            response.status_code,
            trace_id,
            extra={"upstream_trace_id": trace_id},
        )
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After", "")
            # A 429 refused the create; a 5xx (a gateway's, usually) may have passed it on:
            # MiniMax has no idempotency key, so that create is ambiguous.
            error_class: type[TransientError] = RateLimited
            if response.status_code >= 500:
                error_class = AmbiguousCreate if create else TransientError
            raise error_class(
                f"http_{response.status_code}",
                f"The upstream answered HTTP {response.status_code}.",
                trace_id=trace_id,
                retry_after=int(retry_after)
                if retry_after.isascii() and retry_after.isdigit()
                else 0,
            )
        if response.status_code != 200:
            raise PermanentError(
                f"http_{response.status_code}",
                f"The upstream answered HTTP {response.status_code}.",
                trace_id=trace_id,
            )
        try:
            body = response.json()
            base = body.get("base_resp") or {}
            code = int(base.get("status_code", -1))
        except (ValueError, AttributeError, TypeError):
            # Something answered, but not MiniMax's JSON: for a create, the task may exist.
            error_class = AmbiguousCreate if create else TransientError
            raise error_class(
                "bad_answer", "The upstream answer was not JSON.", trace_id=trace_id
            ) from None
        if code != 0:
            # The message is shown to users: never let it carry our own key back to them.
            message = redact(str(base.get("status_msg", "")).replace(self._secret, "[redacted]"))
            refusal = classify(code, message[:200], trace_id)
            logger.warning(
                "minimax %s %s failed: %s trace_id=%s",
                method,
                path,
                refusal,
                trace_id,
                extra={"upstream_trace_id": trace_id},
            )
            raise refusal
        return dict(body)


def progress_from_body(body: Mapping[str, Any]) -> Progress:
    """A query answer or a callback push (same shape) as neutral progress."""
    raw = str(body.get("status") or "")
    state = parse_state(raw)
    if state is None:
        raise TransientError("unknown_status", f"The upstream reported an unknown status {raw!r}.")
    data = {
        "video_url": str(body.get("video_url") or ""),
        "file_id": str(body.get("file_id") or ""),
    }
    if state is State.FAILED:
        return Progress(
            state=state,
            raw_status=raw,
            error_code="upstream_failed",
            message="MiniMax could not generate this video.",
            data=data,
        )
    return Progress(state=state, raw_status=raw, data=data)


class MiniMax:
    slug = "minimax"
    label = "MiniMax (official API)"
    regions = (
        Region("global", "Global (api.minimax.io)"),
        Region("cn", "Mainland China (api.minimaxi.com)"),
    )
    # upstream FACTS, "Media input rules".
    rules = InputRules(
        image=ImageRules(
            formats={"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"},
            max_bytes=20 * 1024 * 1024,
            min_short_side=300,
            min_aspect=Fraction(2, 5),
            max_aspect=Fraction(5, 2),
        ),
        max_text=500,
        media_urls=True,
    )
    # Official tasks cannot be called back once accepted (no cancel endpoint).
    cancels_running = False
    # The official catalogue is a documentation page, seeded as data (videos/catalogue.py).
    lists_catalogue = False

    def check_credentials(self, credentials: Credentials) -> None:
        if not _SECRET.fullmatch(credentials.secret):
            raise FieldError(
                "secret",
                "a MiniMax API key is 8 or more printable ASCII characters without spaces",
            )
        if credentials.account or credentials.max_jobs is not None:
            field = "account" if credentials.account else "max_jobs"
            raise FieldError(field, "MiniMax keys take no account or max_jobs")

    def key_limits(self, *, max_jobs: int | None) -> KeyLimits:
        # upstream FACTS, "Rate limits": about 20 video requests a minute per paid account
        # (5 for free ones); no concurrency figure is published: a setting.
        return KeyLimits(
            max_concurrent=settings.MINIMAX_KEY_MAX_CONCURRENT, rpm=settings.MINIMAX_KEY_RPM
        )

    def check_key(self, credentials: Credentials) -> None:
        # A query of a task that cannot exist: a key error means rejected, anything else
        # (2013 task not found) means the key authenticates.
        try:
            _Client(credentials).call(
                "GET", "/v1/query/video_template_generation", params={"task_id": "0"}
            )
        except CredentialsRejected:
            raise
        except PermanentError:
            return

    def submit(self, credentials: Credentials, request: SubmitRequest) -> Submitted:
        payload: dict[str, Any] = {"template_id": request.template_id}
        if request.text_inputs:
            payload["text_inputs"] = [{"value": value} for value in request.text_inputs]
        if request.media:
            payload["media_inputs"] = [{"value": _media_value(m)} for m in request.media]
        if request.callback_url:
            payload["callback_url"] = request.callback_url
        body = _Client(credentials).call(
            "POST", "/v1/video_template_generation", json=payload, create=True
        )
        task_id = str(body.get("task_id") or "")
        if not task_id:
            raise AmbiguousCreate("no_task_id", "The upstream answered without a task id.")
        return Submitted(task_id=task_id)

    def status(self, credentials: Credentials, task_id: str, data: Mapping[str, Any]) -> Progress:
        body = _Client(credentials).call(
            "GET", "/v1/query/video_template_generation", params={"task_id": task_id}
        )
        return progress_from_body(body)

    def open_result(
        self, credentials: Credentials, task_id: str, data: Mapping[str, Any]
    ) -> ResultStream:
        client = _Client(credentials)
        url = str(data.get("video_url") or "")
        if data.get("file_id"):
            url = _download_url(client, str(data["file_id"]))
        return http.open_download(
            client.session,
            url,
            timeout=settings.UPSTREAM_TIMEOUT,
            allowed_hosts=settings.MINIMAX_RESULT_HOSTS,
        )

    def open_artifact(self, url: str) -> ResultStream:
        return http.open_download(
            http.new_session(),
            url,
            timeout=settings.UPSTREAM_TIMEOUT,
            what="image",
            allowed_hosts=settings.MINIMAX_RESULT_HOSTS,
        )

    def read_callback(self, payload: Mapping[str, Any]) -> CallbackReply:
        # upstream FACTS, "Callback": the challenge must be echoed within 3 s.
        if "challenge" in payload:
            return CallbackReply(body={"challenge": payload["challenge"]}, hint=None)
        raw_status = str(payload.get("status") or "")[:40]
        hint = CallbackHint(
            task_id=str(payload.get("task_id") or "")[:200],
            raw_status=raw_status,
            final=STATES.get(raw_status.lower()) in (State.SUCCEEDED, State.FAILED),
        )
        return CallbackReply(body={"status": "success"}, hint=hint)

    def cancel(self, credentials: Credentials, task_id: str) -> None:
        raise PermanentError("not_supported", "MiniMax tasks cannot be canceled once accepted.")

    def find_lost(
        self, credentials: Credentials, *, reference: str, template_id: str, since: datetime
    ) -> Submitted | None:
        # The official API lists no tasks: only a callback push can tell us the task id.
        return None

    def catalogue(self, credentials: Credentials) -> Iterator[CatalogueEntry]:
        # The official catalogue is a documentation page, seeded as data (videos/catalogue.py).
        return iter(())


def _media_value(media: MediaInput) -> str:
    """A URL the upstream can fetch, else the image inline as a data URL (upstream FACTS,
    "Media input rules": a public URL or a `data:image/...;base64,` URL)."""
    if media.url:
        return media.url
    if media.read is None:
        raise PermanentError("media", "An input image of this job is missing.")
    return f"data:{media.content_type};base64,{base64.b64encode(media.read()).decode()}"


def _download_url(client: _Client, file_id: str) -> str:
    body = client.call("GET", "/v1/files/retrieve", params={"file_id": file_id})
    url = str((body.get("file") or {}).get("download_url") or "")
    if not url:
        raise TransientError("no_download_url", "The upstream file has no download URL yet.")
    return url


provider: Provider = MiniMax()
