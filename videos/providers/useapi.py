"""useapi.net's MiniMax proxy (`{USEAPI_BASE_URL}/v1/minimax/`): MiniMax's Video Agent
templates run through hailuoai.video accounts configured at useapi.net.

How it differs from the official API (upstream FACTS, "useapi.net MiniMax API"):
- the input image is uploaded first (`POST files/`); the create names it by fileID + ossPath;
- the create answers a server-sent event stream lasting the minutes of generation: it is read
  only until an event names the video, then closed (generation goes on without us);
- there is no idempotency: a create whose answer was lost may have made, and billed, a video,
  so `find_lost` looks for it (by our `replyRef`) before anything creates again;
- errors are plain HTTP statuses with `{"error": ...}`, classified once, in `_http_error`.

Answers are read leniently (the contract in the sandbox spec): any field may be missing,
unknown ones are ignored, a list may come bare or wrapped in an object.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from fractions import Fraction
from types import TracebackType
from typing import Any
from urllib.parse import quote, urljoin

import requests
import urllib3.exceptions
from django.conf import settings

from portal.errors import FieldError
from portal.logging import redact
from videos.providers import eventstream, http
from videos.providers.base import (
    Artifact,
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
    CredentialsRejected,
    InsufficientBalance,
    PermanentError,
    RateLimited,
    TransientError,
    UpstreamError,
)

logger = logging.getLogger(__name__)

API_PATH = "/v1/minimax/"
# upstream FACTS, "Errors": on the agent endpoint a 429 means wait for a running job, ~30 s.
DEFAULT_RETRY_AFTER = 30.0
MAX_RETRY_AFTER = 3600.0  # a silly Retry-After must not park a key for days
MESSAGE_MAX = 300  # upstream text shown to users is capped
REPLY_MAX = 1024  # upstream FACTS: `replyUrl`/`replyRef` up to 1024 chars
SECRET_MAX = 512
URL_MAX = 8192
TRACE_HEADERS = ("Trace-Id", "X-Request-Id", "CF-Ray")

# GET videos/{videoId} status codes (upstream FACTS, "GET videos/{videoId}").
PENDING_CODES = {0, 11}  # pending, queued
RUNNING_CODES = {1, 12}  # processing
SUCCEEDED_CODE = 2
FAILED_CODE = 3
MODERATED_CODES = {5, 7, 14}

# POST files/ takes image/png and image/jpeg (upstream FACTS, "POST files/").
UPLOAD_TYPES = {"image/png": "image/png", "image/jpeg": "image/jpeg", "image/jpg": "image/jpeg"}

CATALOGUE_PAGE = 30
CATALOGUE_MAX_PAGES = 20
LISTING_PAGE = 50
LISTING_MAX_PAGES = 3
MAX_NOTES = 20
NOTE_MAX = 500

# The token is `user:<number>-<string>`, sent whole as the Bearer value (useapi OpenAPI).
_SECRET = re.compile(r"user:[0-9]{1,20}-[!-~]+")
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}")

Scrub = Callable[[str], str]


def _now() -> float:
    """The clock of the create's total deadline (a seam for tests)."""
    return time.monotonic()


# --- HTTP --------------------------------------------------------------------------------


class _Client:
    """One token's calls, on one session; never shows the token, not even in a traceback's
    locals (the token lives in this object only, whose repr leaves it out)."""

    def __init__(self, credentials: Credentials):
        self.base_url = f"{settings.USEAPI_BASE_URL.rstrip('/')}{API_PATH}"
        self.account = credentials.account
        self._secret = credentials.secret
        # Looked up at call time, so a test's monkeypatch of http.new_session applies.
        self.session = http.new_session()

    def __repr__(self) -> str:
        return f"UseApiClient({self.base_url!r})"

    def __enter__(self) -> _Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        _close_session(self.session)

    def scrub(self, text: str) -> str:
        """Upstream text as a user may see it: our token out of it, and any other secret."""
        return _scrub(text, self._secret)

    def account_params(self, **params: Any) -> dict[str, Any]:
        if self.account:
            params["account"] = self.account
        return params

    def send(
        self, method: str, path: str, *, create: bool = False, **kwargs: Any
    ) -> requests.Response:
        """The response of a call that succeeded (2xx); every failure raised, classified."""
        with http.observed("useapi"):
            return self._send(method, path, create=create, **kwargs)

    def _send(
        self, method: str, path: str, *, create: bool = False, **kwargs: Any
    ) -> requests.Response:
        timeout = settings.UPSTREAM_CREATE_TIMEOUT if create else settings.UPSTREAM_TIMEOUT
        extra_headers = kwargs.pop("headers", None) or {}
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                headers={**extra_headers, "Authorization": f"Bearer {self._secret}"},
                timeout=timeout,
                **kwargs,
            )
        except (UnicodeError, requests.exceptions.InvalidHeader):
            # A token that cannot go into an HTTP header: check_credentials refuses those at
            # save; an older one ends the job rather than retrying forever.
            raise CredentialsRejected(
                "secret", "The API token has characters HTTP cannot send."
            ) from None
        except requests.RequestException as error:
            raise http.network_error(error, create=create, name="useapi.net") from None
        trace_id = _trace_id(response)
        logger.info(
            "useapi %s %s -> HTTP %s trace_id=%s",
            method,
            path,
            response.status_code,
            trace_id,
            extra={"upstream_trace_id": trace_id},
        )
        if 200 <= response.status_code < 300:
            return response
        try:
            failure = _http_error(response, scrub=self.scrub, create=create, trace_id=trace_id)
        finally:
            response.close()
        logger.warning(
            "useapi %s %s failed: %s trace_id=%s",
            method,
            path,
            failure,
            trace_id,
            extra={"upstream_trace_id": trace_id},
        )
        raise failure

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call answering JSON: the decoded body (any JSON value)."""
        response = self.send(method, path, **kwargs)
        try:
            return response.json()
        except (ValueError, requests.RequestException):
            raise TransientError(
                "bad_answer",
                "useapi.net answered something that is not JSON.",
                trace_id=_trace_id(response),
            ) from None
        finally:
            response.close()


def _close_session(session: requests.Session) -> None:
    # A stand-in session (tests, another module's fake upstream) may have nothing to close.
    close = getattr(session, "close", None)
    if callable(close):
        close()


def _trace_id(response: requests.Response) -> str:
    for name in TRACE_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)[:100]
    return ""


def _http_error(
    response: requests.Response, *, scrub: Scrub, create: bool, trace_id: str
) -> UpstreamError:
    """THE classification of useapi's HTTP errors (upstream FACTS, "Errors")."""
    status = response.status_code
    detail = _error_detail(response, scrub)

    def said(text: str) -> str:
        return f"{text} ({detail})" if detail else text

    code = f"http_{status}"
    if status == 401:
        return CredentialsRejected(
            code, said("useapi.net rejected the API token."), trace_id=trace_id
        )
    if status in (402, 412):
        return InsufficientBalance(
            code, said("The useapi.net account has not enough credits."), trace_id=trace_id
        )
    if status == 404:
        what = (
            "The template does not exist at useapi.net any more."
            if create
            else "useapi.net does not know this item."
        )
        return PermanentError("not_found", said(what), trace_id=trace_id)
    if status == 429:
        return RateLimited(
            code,
            said("useapi.net is busy or rate-limited for this token; trying later."),
            trace_id=trace_id,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if create and (status >= 500 or status == 408):
        return AmbiguousCreate(
            code,
            said(f"useapi.net answered HTTP {status} to the create; looking for the video."),
            trace_id=trace_id,
        )
    if status >= 500 or status == 408:  # 596 too: the upstream session broke, it comes back
        return TransientError(
            code, said(f"useapi.net answered HTTP {status}; trying later."), trace_id=trace_id
        )
    if 400 <= status < 500:
        return PermanentError(
            code, said(f"useapi.net refused the request (HTTP {status})."), trace_id=trace_id
        )
    return TransientError(code, f"useapi.net answered HTTP {status}.", trace_id=trace_id)


def _error_detail(response: requests.Response, scrub: Scrub) -> str:
    """The `error` of a `{"error": ...}` body, safe to show; "" when there is none."""
    try:
        body = response.json()
    except (ValueError, requests.RequestException):
        return ""
    if not isinstance(body, Mapping):
        return ""
    return _message(body.get("error") or body.get("message"), scrub)


def _message(value: object, scrub: Scrub, limit: int = MESSAGE_MAX) -> str:
    """Upstream text for a user: scrubbed first, then capped (so no half secret survives)."""
    if value is None or isinstance(value, bool):
        return ""
    text = value if isinstance(value, str) else str(value)
    text = " ".join(scrub(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, secret: str) -> str:
    for part in _secret_parts(secret):
        text = text.replace(part, "[redacted]")
    return redact(text)


def _secret_parts(secret: str) -> list[str]:
    """The token, and its `<string>` part alone: an upstream may echo either."""
    parts = [secret] if secret else []
    _, dash, tail = secret.partition("-")
    if dash and len(tail) >= 6:
        parts.append(tail)
    return parts


def retry_after_seconds(value: str | None) -> float:
    """`Retry-After` in seconds (or an HTTP date); 30 s when absent or unreadable."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_RETRY_AFTER
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RETRY_AFTER
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max((when - datetime.now(UTC)).total_seconds(), 0.0)
    if not math.isfinite(seconds) or seconds < 0:
        return DEFAULT_RETRY_AFTER
    return min(seconds, MAX_RETRY_AFTER)


# --- Lenient reading of answers ----------------------------------------------------------


def _object(body: object, key: str) -> Mapping[str, Any]:
    """`body`, or the object under `key` when the answer comes wrapped in one."""
    if not isinstance(body, Mapping):
        return {}
    inner = body.get(key)
    return inner if isinstance(inner, Mapping) else body


def _items(body: object, *keys: str) -> list[Mapping[str, Any]]:
    """The objects of a list that may come bare or wrapped in an object."""
    found: object = body
    if isinstance(body, Mapping):
        found = next((body[k] for k in keys if isinstance(body.get(k), list)), None)
        if found is None:
            found = next((v for v in body.values() if isinstance(v, list)), [])
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, Mapping)]


def _text(value: object, limit: int = 1000) -> str:
    """A string or a number as text; anything else (objects, lists, booleans) as ""."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str):
        return value.strip()[:limit]
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)[:limit]
    return ""


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?[0-9]{1,18}", text):
            return int(text)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _url(value: object) -> str:
    """An http(s) URL from an answer; a path is taken as relative to useapi's host."""
    text = _text(value, limit=URL_MAX + 1)
    if len(text) > URL_MAX:
        return ""  # cut short it would point nowhere
    if text.startswith(("https://", "http://")):
        return text
    if text.startswith("/") and not text.startswith("//"):
        base: str = settings.USEAPI_BASE_URL
        return urljoin(base, text)
    return ""


def _nonzero(value: object) -> bool:
    """An `errCode` that says something went wrong (0, "0", "" and null do not)."""
    if value is None or value is False or value == "":
        return False
    number = _int(value)
    return number != 0


# --- Video status ------------------------------------------------------------------------


def progress_from_video(body: Mapping[str, Any], scrub: Scrub) -> Progress:
    """A `GET videos/{videoId}` answer (or one entry of `GET videos/`) as neutral progress."""
    code = _int(body.get("status"))
    label = _text(body.get("statusLabel"), limit=40)
    raw = " ".join(part for part in (_text(body.get("status"), limit=20), label) if part)
    data = {
        key: url
        for key, url in (
            ("video_url", _url(body.get("videoURL"))),
            ("download_url", _url(body.get("downloadURL"))),
            ("cover_url", _url(body.get("coverURL"))),
        )
        if url
    }
    if video_id := _video_id(body):
        # Kept by the portal: it tells a later 404 "removed" from "never ours" (see _status).
        data["video_id"] = video_id
    percent = _percent(body.get("percent"))
    upstream_message = _message(body.get("message"), scrub)
    if code in PENDING_CODES:
        return Progress(State.PENDING, raw, percent=percent, data=data)
    if code == SUCCEEDED_CODE:
        poster = (Artifact(url=data["cover_url"], kind="poster"),) if "cover_url" in data else ()
        return Progress(State.SUCCEEDED, raw, percent=percent, data=data, artifacts=poster)
    if code == FAILED_CODE:
        if "cancel" in label.lower():
            return Progress(
                State.FAILED,
                raw,
                percent=percent,
                error_code="canceled",
                message=upstream_message or "The video was canceled at useapi.net.",
                data=data,
            )
        return Progress(
            State.FAILED,
            raw,
            percent=percent,
            error_code="upstream_failed",
            message=upstream_message or "useapi.net could not generate this video.",
            data=data,
        )
    if code in MODERATED_CODES:
        text = "MiniMax's moderation refused the input or the generated video."
        return Progress(
            State.FAILED,
            raw,
            percent=percent,
            error_code="moderated",
            message=f"{text} ({upstream_message})" if upstream_message else text,
            data=data,
        )
    if code not in RUNNING_CODES:
        # A code useapi added since: keep polling (the raw status shows it) rather than fail.
        logger.info("useapi video status %r is not one we know; taken as running", raw)
    return Progress(State.RUNNING, raw or "unknown", percent=percent, data=data)


def _percent(value: object) -> int | None:
    number = _number(value)
    if number is None:
        return None
    return max(0, min(100, round(number)))


def _result_url(data: Mapping[str, Any]) -> str:
    # downloadURL has no watermark (paid accounts); videoURL is watermarked (upstream FACTS).
    return _url(data.get("download_url")) or _url(data.get("video_url"))


# --- The create stream -------------------------------------------------------------------


@dataclass
class _CreateStream:
    """What the agent-create stream said until it named the video."""

    scrub: Scrub
    notes: list[str] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)

    def take(self, item: eventstream.JsonEvent | eventstream.SkippedEvent) -> Submitted | None:
        """The accepted task once `item` names it; raises on an error event."""
        if isinstance(item, eventstream.SkippedEvent):
            logger.info("useapi agent-create: skipped an event (%s)", item.reason)
            return None
        if item.is_heartbeat:
            return None
        body = item.body
        video_id = item.video_id
        if not video_id:
            # An event naming the video wins over an error in it: the video exists, and its
            # status will say how it went; without one, nothing was made.
            failure = _event_error(body, self.scrub)
            if failure is not None:
                raise failure
        message = body.get("message")
        message = message if isinstance(message, Mapping) else {}
        if item.type == 1:
            self._note(message.get("msgContent"))
        elif item.type == 2:
            self._attachments(message.get("attachmentInfo"))
        if not video_id:
            return None
        data = {"video_id": video_id}
        for key, name in (("projectID", "project_id"), ("chatID", "chat_id")):
            if value := _text(body.get(key), limit=200):
                data[name] = value
        return Submitted(
            task_id=video_id, data=data, notes=tuple(self.notes), artifacts=tuple(self.artifacts)
        )

    def _note(self, value: object) -> None:
        text = _message(value, self.scrub, limit=NOTE_MAX)
        if text and len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def _attachments(self, info: object) -> None:
        if not isinstance(info, Mapping):
            return
        # attachmentInfo.type 2 is a video, 3 the final composite: not images to show.
        if _int(info.get("type")) in (2, 3):
            return
        attachments = info.get("attachments")
        for attachment in attachments if isinstance(attachments, list) else []:
            if not isinstance(attachment, Mapping) or _int(attachment.get("status")) != 3:
                continue  # status 2 is still processing (upstream FACTS)
            file = attachment.get("file")
            file = file if isinstance(file, Mapping) else {}
            url = _url(file.get("fileUrl"))
            if url and all(a.url != url for a in self.artifacts):
                self.artifacts.append(
                    Artifact(url=url, kind="image", name=_text(file.get("fileName"), limit=200))
                )


def _event_error(body: Mapping[str, Any], scrub: Scrub) -> PermanentError | None:
    """A PermanentError when the event reports one (a non-zero `errCode`, or an `error`)."""
    err_code = body.get("errCode")
    error = body.get("error")
    if not _nonzero(err_code) and not error:
        return None
    text = _message(body.get("errMsg") or ("" if isinstance(error, bool) else error), scrub)
    number = _int(err_code)
    code = f"stream_{number}" if number else "stream_error"
    return PermanentError(
        code, f"useapi.net refused the create: {text}" if text else "useapi.net refused the create."
    )


def _read_created(response: requests.Response, *, deadline: float, scrub: Scrub) -> Submitted:
    """Read the agent-create answer until an event names the video."""
    stream = _CreateStream(scrub=scrub)
    content_type = str(response.headers.get("Content-Type", "")).split(";")[0].strip().lower()
    if content_type == "application/json":
        # Not a stream after all: one JSON answer, read as if it were a single event.
        try:
            body = response.json()
        except (ValueError, requests.RequestException):
            body = None
        if isinstance(body, Mapping) and (found := stream.take(eventstream.JsonEvent(body))):
            return found
        raise AmbiguousCreate("no_video_id", "useapi.net answered the create without a video.")
    parser = eventstream.EventStreamParser()
    try:
        # One byte per read: urllib3 fills a bigger chunk before returning it, and after
        # `created` the next bytes may be a heartbeat many seconds away. The socket is
        # buffered below, and the stream is closed once the video is named.
        for chunk in response.iter_content(chunk_size=1):
            for item in eventstream.json_events(parser.feed(chunk)):
                if found := stream.take(item):
                    return found
            if _now() > deadline:
                raise AmbiguousCreate(
                    "timeout", "useapi.net did not name the video in time; looking for it."
                )
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        raise AmbiguousCreate(
            "stream_cut", "The useapi.net stream broke before it named the video."
        ) from None
    except eventstream.EventStreamError:
        raise AmbiguousCreate(
            "bad_stream", "The useapi.net stream could not be read; looking for the video."
        ) from None
    raise AmbiguousCreate("no_video_id", "The useapi.net stream ended before it named the video.")


# --- The provider ------------------------------------------------------------------------


class UseApi:
    slug: str = "useapi"
    label: str = "useapi.net (MiniMax proxy)"
    regions: Sequence[Region] = (Region("global", "Global"),)
    # POST files/ takes PNG and JPEG; the rest are MiniMax's rules (upstream FACTS, "Media
    # input rules"). The image is uploaded, never passed as a URL.
    rules: InputRules = InputRules(
        image=ImageRules(
            formats={"PNG": "image/png", "JPEG": "image/jpeg"},
            max_bytes=20 * 1024 * 1024,
            min_short_side=300,
            min_aspect=Fraction(2, 5),
            max_aspect=Fraction(5, 2),
        ),
        max_text=500,
        media_urls=False,
    )
    cancels_running: bool = True  # POST videos/cancel
    lists_catalogue: bool = True  # GET videos/agent-templates

    @property
    def create_timeout(self) -> float:
        return float(settings.UPSTREAM_CREATE_TIMEOUT[1])

    def check_credentials(self, credentials: Credentials) -> None:
        secret = credentials.secret
        if len(secret) > SECRET_MAX or not _SECRET.fullmatch(secret):
            raise FieldError(
                "secret",
                "a useapi.net API token looks like user:<number>-<string>, in printable "
                f"ASCII without spaces, at most {SECRET_MAX} characters",
            )
        if credentials.account and not _ACCOUNT.fullmatch(credentials.account):
            raise FieldError(
                "account",
                "an account is up to 64 letters, digits and . _ @ + - (or empty for any)",
            )
        max_jobs = credentials.max_jobs
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or not 1 <= max_jobs <= 10
        ):
            raise FieldError("max_jobs", "max_jobs is a whole number from 1 to 10, or empty")

    def key_limits(self, *, max_jobs: int | None) -> KeyLimits:
        # The key's `maxJobs` is what useapi runs at once for it (upstream FACTS: maxJobs
        # 1..10); without one, useapi's advice for a paid account. No request rate published.
        return KeyLimits(max_concurrent=max_jobs or settings.USEAPI_DEFAULT_MAX_JOBS, rpm=None)

    def check_key(self, credentials: Credentials) -> None:
        with _Client(credentials) as client:
            try:
                client.send("GET", "accounts").close()
            except CredentialsRejected:
                raise
            except PermanentError:
                return  # refused for another reason: the token itself authenticated

    def submit(self, credentials: Credentials, request: SubmitRequest) -> Submitted:
        with _Client(credentials) as client:
            # agent-create takes one fileID: only the first image is uploaded and sent.
            first = min(request.media, key=lambda m: m.position, default=None)
            ref = _upload(client, first, request) if first is not None else None
            payload = _create_payload(credentials, request, ref)
            deadline = _now() + self.create_timeout
            response = client.send(
                "POST",
                "videos/agent-create",
                create=True,
                stream=True,
                json=payload,
                headers={"Accept": "text/event-stream"},
            )
            try:
                submitted = _read_created(response, deadline=deadline, scrub=client.scrub)
            finally:
                # Hang up as soon as the video is named: no worker waits out the minutes of
                # generation (it goes on upstream without us).
                response.close()
        logger.info("useapi agent-create made video %s", submitted.task_id)
        return submitted

    def status(self, credentials: Credentials, task_id: str, data: Mapping[str, Any]) -> Progress:
        with _Client(credentials) as client:
            return _status(client, task_id, known=data.get("video_id") == task_id)

    def open_result(
        self, credentials: Credentials, task_id: str, data: Mapping[str, Any]
    ) -> ResultStream:
        client = _Client(credentials)
        try:
            url = _result_url(data) or _result_url(_status(client, task_id, known=True).data)
            if not url:
                raise TransientError("no_url", "useapi.net gives no link to this video yet.")
            stream = http.open_download(
                client.session,
                url,
                timeout=settings.UPSTREAM_TIMEOUT,
                allowed_hosts=settings.USEAPI_RESULT_HOSTS,
            )
        except BaseException:
            client.close()
            raise
        return _closing(stream, client.close)

    def open_artifact(self, url: str) -> ResultStream:
        session = http.new_session()
        try:
            stream = http.open_download(
                session,
                url,
                timeout=settings.UPSTREAM_TIMEOUT,
                what="image",
                allowed_hosts=settings.USEAPI_RESULT_HOSTS,
            )
        except BaseException:
            _close_session(session)
            raise
        return _closing(stream, lambda: _close_session(session))

    def read_callback(self, payload: Mapping[str, Any]) -> CallbackReply:
        # upstream FACTS: the replyUrl payload is undocumented and unsigned. The sandbox posts
        # the GET videos/{id} shape plus replyRef: a reason to re-query, nothing more.
        reply = {"received": True}
        if not isinstance(payload, Mapping):
            return CallbackReply(body=reply, hint=None)
        task_id = _video_id(payload)
        status = _text(payload.get("status"), limit=20)
        label = _text(payload.get("statusLabel"), limit=40)
        raw_status = " ".join(part for part in (status, label) if part)[:60]
        reference = _text(payload.get("replyRef"), limit=REPLY_MAX)
        if not (task_id or raw_status or reference):
            return CallbackReply(body=reply, hint=None)
        code = _int(payload.get("status"))
        final = code in (SUCCEEDED_CODE, FAILED_CODE) or code in MODERATED_CODES
        return CallbackReply(
            body=reply,
            hint=CallbackHint(
                task_id=task_id, raw_status=raw_status, reference=reference, final=final
            ),
        )

    def cancel(self, credentials: Credentials, task_id: str) -> None:
        with _Client(credentials) as client:
            client.send("POST", "videos/cancel", json={"videoId": task_id}).close()

    def find_lost(
        self, credentials: Credentials, *, reference: str, template_id: str, since: datetime
    ) -> Submitted | None:
        with _Client(credentials) as client:
            return _find_in_scheduler(client, reference) or _find_in_videos(
                client, reference=reference, template_id=template_id, since=since
            )

    def catalogue(self, credentials: Credentials) -> Iterator[CatalogueEntry]:
        with _Client(credentials) as client:
            yield from _catalogue(client)


def _closing(stream: ResultStream, close_more: Callable[[], None]) -> ResultStream:
    """The stream, its close also closing the session it came on."""
    close_response = stream.close

    def close() -> None:
        try:
            close_response()
        finally:
            close_more()

    return replace(stream, close=close)


# --- submit ------------------------------------------------------------------------------


def _upload(client: _Client, media: MediaInput, request: SubmitRequest) -> Mapping[str, str]:
    """{fileID, ossPath} of the input: an earlier attempt's, else a fresh `POST files/`."""
    ref = _upload_ref(media.upload_ref)
    if ref is not None:
        return ref
    if media.read is None:
        raise PermanentError(
            "no_image", "useapi.net needs the image itself, and this input has none stored."
        )
    content_type = UPLOAD_TYPES.get(media.content_type.split(";")[0].strip().lower())
    if content_type is None:
        raise PermanentError("unsupported_image", "useapi.net takes PNG and JPEG images only.")
    body = client.call(
        "POST",
        "files/",
        data=media.read(),
        headers={"Content-Type": content_type},
        params=client.account_params() or None,
    )
    ref = _upload_ref(_object(body, "file"))
    if ref is None:
        raise TransientError("bad_answer", "useapi.net answered the upload without a file id.")
    request.on_upload(media.position, ref)
    return ref


def _upload_ref(value: Mapping[str, Any]) -> dict[str, str] | None:
    # upstream FACTS: `ossPath` is required whenever `fileID` is sent: both or nothing.
    file_id, oss_path = value.get("fileID"), value.get("ossPath")
    if isinstance(file_id, str) and file_id and isinstance(oss_path, str) and oss_path:
        return {"fileID": file_id, "ossPath": oss_path}
    return None


def _create_payload(
    credentials: Credentials, request: SubmitRequest, ref: Mapping[str, str] | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"templateId": request.template_id}
    if request.text_inputs and request.text_inputs[0]:
        payload["prompt"] = request.text_inputs[0]
    if ref is not None:
        payload["fileID"] = ref["fileID"]
        payload["ossPath"] = ref["ossPath"]
    if request.callback_url:
        if len(request.callback_url) <= REPLY_MAX:
            payload["replyUrl"] = request.callback_url
        else:
            # useapi would refuse the whole create (upstream FACTS: up to 1024 chars); polling
            # finds the outcome without the push.
            logger.warning("useapi agent-create: callback URL too long, sent without it")
    if request.reference:
        payload["replyRef"] = request.reference
    if credentials.max_jobs is not None:
        payload["maxJobs"] = credentials.max_jobs
    if credentials.account:
        payload["account"] = credentials.account
    return payload


# --- status ------------------------------------------------------------------------------


def _status(client: _Client, task_id: str, *, known: bool) -> Progress:
    """`known`: this key made the video (its id came back from our create or a listing).
    Only then is a 404 "moderated and removed"; for any other id it is "not yours"."""
    if not task_id:
        raise PermanentError("no_task_id", "This job has no useapi.net video id.")
    try:
        # The id holds ':' (user:1-minimax:2-video:3): quoted whole, it stays one segment.
        body = client.call("GET", f"videos/{quote(task_id, safe='')}")
    except PermanentError as error:
        # upstream FACTS: 404 after generation usually means moderated and removed; 410
        # comes after the retention period. Both are the video's end, not a failed call.
        if error.code == "not_found" and known:
            return Progress(
                State.FAILED,
                "HTTP 404",
                error_code="moderated",
                message="useapi.net no longer has this video: MiniMax removes a video its "
                "moderation refused.",
            )
        if error.code == "http_410":
            return Progress(
                State.FAILED,
                "HTTP 410",
                error_code="expired",
                message="The video is past useapi's retention period and was deleted there.",
            )
        raise
    return progress_from_video(_object(body, "video"), client.scrub)


# --- find_lost ---------------------------------------------------------------------------


def _find_in_scheduler(client: _Client, reference: str) -> Submitted | None:
    """A video still running through the API, by our replyRef (`GET scheduler/`)."""
    if not reference:
        return None
    try:
        body = client.call("GET", "scheduler/")
    except PermanentError as error:
        if isinstance(error, CredentialsRejected | InsufficientBalance):
            raise
        return None  # the listing is refused; GET videos/ may still tell
    for item in _items(body, "jobs", "videos", "scheduler"):
        video_id = _video_id(item)
        if video_id and _text(item.get("replyRef"), limit=REPLY_MAX) == reference:
            return Submitted(task_id=video_id, data={"video_id": video_id})
    return None


def _find_in_videos(
    client: _Client, *, reference: str, template_id: str, since: datetime
) -> Submitted | None:
    try:
        videos = _recent_videos(client, since)
    except PermanentError as error:
        if isinstance(error, CredentialsRejected | InsufficientBalance):
            raise
        return None  # the listing is refused: nothing found, the caller creates again
    if any("replyRef" in video for video in videos):
        for video in videos:
            if reference and _text(video.get("replyRef"), limit=REPLY_MAX) == reference:
                return _adopt(video, client.scrub)
        return None
    # A listing that shows no replyRef at all: the template and the time are all there is.
    # Only a single candidate is taken: adopting another job's video would be worse than
    # creating again.
    since = _aware(since)
    candidates = [
        video
        for video in videos
        if template_id
        and _text(video.get("templateId"), limit=100) == template_id
        and (created := _created_at(video)) is not None
        and created >= since
    ]
    if len(candidates) != 1:
        if candidates:
            logger.warning(
                "useapi find_lost: %d candidate videos for one lost create; none adopted",
                len(candidates),
            )
        return None
    return _adopt(candidates[0], client.scrub)


def _recent_videos(client: _Client, since: datetime) -> list[Mapping[str, Any]]:
    """`GET videos/` (newest first), a few pages back, no further than `since`."""
    since = _aware(since)
    videos: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    last_id = ""
    for _ in range(LISTING_MAX_PAGES):
        params = client.account_params(limit=LISTING_PAGE)
        if last_id:
            params["lastVideoId"] = last_id
        page = _items(client.call("GET", "videos/", params=params), "videos", "items")
        fresh = [v for v in page if _video_id(v) not in seen]
        seen.update(_video_id(v) for v in fresh)
        videos.extend(fresh)
        if not fresh or len(page) < LISTING_PAGE:
            break
        oldest = _created_at(page[-1])
        last_id = _video_id(page[-1])
        if not last_id or (oldest is not None and oldest < since):
            break
    return videos


def _video_id(item: Mapping[str, Any]) -> str:
    # Longer than the portal keeps (Job.upstream_task_id) cannot be a useapi id.
    video_id = _text(item.get("videoId"), limit=301)
    return video_id if len(video_id) <= 300 else ""


def _adopt(video: Mapping[str, Any], scrub: Scrub) -> Submitted | None:
    video_id = _video_id(video)
    if not video_id:
        return None
    progress = progress_from_video(video, scrub)
    return Submitted(task_id=video_id, data={"video_id": video_id, **progress.data})


def _created_at(video: Mapping[str, Any]) -> datetime | None:
    """`createTime` (ms since the epoch, per the sandbox contract; seconds or ISO 8601 read
    too)."""
    value = video.get("createTime", video.get("created"))
    number = _number(value)
    if number is None:
        if not isinstance(value, str):
            return None
        try:
            return _aware(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    seconds = number / 1000 if number > 1e11 else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _aware(moment: datetime) -> datetime:
    # A naive time is taken as UTC (the portal runs with USE_TZ; this is only a safeguard).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- catalogue ---------------------------------------------------------------------------


def _catalogue(client: _Client) -> Iterator[CatalogueEntry]:
    seen: set[str] = set()
    last_id = ""
    for _ in range(CATALOGUE_MAX_PAGES):
        params = client.account_params(limit=CATALOGUE_PAGE)
        if last_id:
            params["lastId"] = last_id
        body = client.call("GET", "videos/agent-templates", params=params)
        new = 0
        for item in _items(body, "videoList", "templates", "items"):
            template_id = _template_id(item)
            if not template_id or template_id in seen:
                continue
            seen.add(template_id)
            new += 1
            yield _entry(template_id, item, _template_detail(client, template_id))
        wrapper = body if isinstance(body, Mapping) else {}
        next_id = _text(wrapper.get("lastId"), limit=100)
        if not new or wrapper.get("hasMore") is False or not next_id or next_id == last_id:
            return
        last_id = next_id
    logger.warning("useapi catalogue: stopped after %d pages", CATALOGUE_MAX_PAGES)


def _template_id(item: Mapping[str, Any]) -> str:
    asset = _asset(item)
    template_id = _text(asset.get("agentTemplateID"), limit=101) or _text(item.get("id"), limit=101)
    return template_id if len(template_id) <= 100 else ""  # VideoTemplate.template_id


def _asset(item: Mapping[str, Any]) -> Mapping[str, Any]:
    asset = item.get("videoAsset")
    return asset if isinstance(asset, Mapping) else {}


def _template_detail(client: _Client, template_id: str) -> Mapping[str, Any]:
    """One template's detail ({} when useapi does not know it any more)."""
    try:
        body = client.call(
            "GET", "videos/agent-templates", params=client.account_params(templateId=template_id)
        )
    except PermanentError as error:
        if isinstance(error, CredentialsRejected | InsufficientBalance):
            raise
        return {}  # 404 (gone since the listing) or refused: its input needs stay unknown
    except TransientError:
        # One busy detail must not cost the whole listing: unknown now, read again next sync.
        return {}
    return _object(body, "template")


def _entry(template_id: str, item: Mapping[str, Any], detail: Mapping[str, Any]) -> CatalogueEntry:
    asset = _asset(item)

    def first_text(*values: object, limit: int) -> str:
        return next((text for value in values if (text := _text(value, limit=limit))), "")

    media_inputs, text_inputs, text_label = _input_needs(detail.get("inputs", item.get("inputs")))
    credits = next(
        (
            number
            for value in (item.get("credits"), asset.get("credits"), detail.get("credits"))
            if (number := _number(value)) is not None and number >= 0
        ),
        None,
    )
    return CatalogueEntry(
        template_id=template_id,
        price_cents=_price_cents(credits),
        name=first_text(
            asset.get("agentTemplateName"),
            detail.get("name"),
            asset.get("title"),
            item.get("name"),
            limit=200,
        ),
        description=first_text(
            asset.get("desc"), detail.get("desc"), detail.get("description"), limit=2000
        ),
        cover_url=_url(asset.get("coverURL")) or _url(detail.get("coverURL")),
        preview_url=_url(asset.get("videoURL")) or _url(detail.get("videoURL")),
        media_inputs=media_inputs,
        text_inputs=text_inputs,
        text_label=text_label,
        credits=credits,
    )


def _price_cents(credits: float | None) -> int:
    """What a video costs the team: the listing's credits at the configured rate, else the
    staff-set default (settings USEAPI_CENTS_PER_CREDIT, USEAPI_DEFAULT_PRICE_CENTS)."""
    if credits is None:
        default: int = settings.USEAPI_DEFAULT_PRICE_CENTS
        return default
    rate = float(settings.USEAPI_CENTS_PER_CREDIT)
    # Rounded up (never below cost), after float noise is rounded away (0.1 * 3 is 0.3).
    return max(0, math.ceil(round(credits * rate, 6)))


def _input_needs(inputs: object) -> tuple[int | None, int | None, str]:
    """(images, texts, first text's label) from `inputs: [{type, label, placeholder}]`;
    (None, None, "") when the detail does not state them."""
    if not isinstance(inputs, Sequence) or isinstance(inputs, str):
        return None, None, ""
    kinds = [
        (_text(entry.get("type"), limit=20).lower(), entry)
        for entry in inputs
        if isinstance(entry, Mapping)
    ]
    texts = [entry for kind, entry in kinds if kind == "text"]
    label = ""
    if texts:
        label = _text(texts[0].get("label"), limit=200) or _text(
            texts[0].get("placeholder"), limit=200
        )
    return sum(1 for kind, _ in kinds if kind == "image"), len(texts), label


provider: Provider = UseApi()
