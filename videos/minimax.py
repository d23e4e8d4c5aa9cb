"""The one door to MiniMax's official Video Agent API.

Every v1 answer is HTTP 200; the outcome is `base_resp.status_code` (0 = ok), even for a
missing key. Errors are classified here once (FACTS.md, "Error codes"):
transient ones are retried later by the caller, permanent ones end the job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

import requests
from django.conf import settings

from portal.logging import redact

logger = logging.getLogger(__name__)

# Retry later: the upstream is busy or hiccuped.
TRANSIENT_CODES = {1000, 1001, 1024, 1033, 1041}
# Retry later, and not too soon: rate or usage limits.
RATE_LIMIT_CODES = {1002: 60, 2045: 120, 2056: 1800}
# The key itself is bad: stop using it.
KEY_REJECTED_CODES = {1004, 2049}

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


class UpstreamError(Exception):
    """An upstream call did not succeed. `code` is the upstream status code or an HTTP marker."""

    def __init__(self, code: str, message: str, trace_id: str = ""):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.trace_id = trace_id


class TransientError(UpstreamError):
    """Try again later; `retry_after` seconds is the least sensible wait."""

    def __init__(self, code: str, message: str, trace_id: str = "", retry_after: int = 0):
        super().__init__(code, message, trace_id)
        self.retry_after = retry_after


class PermanentError(UpstreamError):
    """Trying again will not help."""


class KeyRejectedError(PermanentError):
    """The upstream refused the API key (1004, 2049): mark it invalid."""


class TaskStatus(Enum):
    PREPARING = "preparing"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAIL = "fail"


# Case-insensitive, and both the query spellings (Preparing Processing Success Fail) and the
# callback spellings (processing success failed); a client comparing against "Failed" only
# would miss "Fail" (FACTS.md, "Other clients").
_STATUS_ALIASES = {
    "preparing": TaskStatus.PREPARING,
    "queueing": TaskStatus.PREPARING,
    "processing": TaskStatus.PROCESSING,
    "success": TaskStatus.SUCCESS,
    "succeeded": TaskStatus.SUCCESS,
    "fail": TaskStatus.FAIL,
    "failed": TaskStatus.FAIL,
}


def parse_status(raw: str) -> TaskStatus | None:
    return _STATUS_ALIASES.get((raw or "").strip().lower())


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    status: TaskStatus
    raw_status: str
    video_url: str
    file_id: str


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    download_url: str
    bytes: int
    filename: str


def classify(code: int, message: str, trace_id: str) -> UpstreamError:
    text = MESSAGES.get(code, "The upstream refused the request.")
    if message:
        text = f"{text} ({message})"
    if code in KEY_REJECTED_CODES:
        return KeyRejectedError(str(code), text, trace_id)
    if code in RATE_LIMIT_CODES:
        return TransientError(str(code), text, trace_id, retry_after=RATE_LIMIT_CODES[code])
    if code in TRANSIENT_CODES:
        return TransientError(str(code), text, trace_id)
    return PermanentError(str(code), text, trace_id)


def new_session() -> requests.Session:
    """One place to make the HTTP session (tests put a fake upstream here)."""
    return requests.Session()


class MiniMaxClient:
    def __init__(self, *, base_url: str, api_key: str, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.session = session or new_session()
        self.timeout = settings.UPSTREAM_TIMEOUT

    def __repr__(self) -> str:  # never show the key, not even in a traceback's locals
        return f"MiniMaxClient({self.base_url!r})"

    def _call(self, method: str, path: str, **kwargs) -> dict:
        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            response = self.session.request(
                method, url, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.Timeout:
            raise TransientError("timeout", "The upstream did not answer in time.") from None
        except requests.ConnectionError:
            raise TransientError("connection", "The upstream could not be reached.") from None
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
            raise TransientError(
                f"http_{response.status_code}",
                f"The upstream answered HTTP {response.status_code}.",
                trace_id,
                retry_after=int(retry_after) if retry_after.isdigit() else 0,
            )
        if response.status_code != 200:
            raise PermanentError(
                f"http_{response.status_code}",
                f"The upstream answered HTTP {response.status_code}.",
                trace_id,
            )
        try:
            body = response.json()
            base = body.get("base_resp") or {}
            code = int(base.get("status_code", -1))
        except (ValueError, AttributeError, TypeError):
            raise TransientError(
                "bad_answer", "The upstream answer was not JSON.", trace_id
            ) from None
        if code != 0:
            # The message is shown to users: never let it carry our own key back to them.
            message = redact(str(base.get("status_msg", "")).replace(self._api_key, "[redacted]"))
            error = classify(code, message[:200], trace_id)
            logger.warning(
                "minimax %s %s failed: %s trace_id=%s",
                method,
                path,
                error,
                trace_id,
                extra={"upstream_trace_id": trace_id},
            )
            raise error
        body["_trace_id"] = trace_id
        return body

    def create(
        self,
        *,
        template_id: str,
        text_inputs: list[str],
        media_inputs: list[str],
        callback_url: str = "",
    ) -> str:
        payload: dict = {"template_id": template_id}
        if text_inputs:
            payload["text_inputs"] = [{"value": value} for value in text_inputs]
        if media_inputs:
            payload["media_inputs"] = [{"value": value} for value in media_inputs]
        if callback_url:
            payload["callback_url"] = callback_url
        body = self._call("POST", "/v1/video_template_generation", json=payload)
        task_id = str(body.get("task_id") or "")
        if not task_id:
            raise TransientError("no_task_id", "The upstream answered without a task id.")
        return task_id

    def query(self, *, task_id: str) -> TaskResult:
        body = self._call("GET", "/v1/query/video_template_generation", params={"task_id": task_id})
        return result_from_body(body, task_id=task_id)

    def retrieve_file(self, *, file_id: str) -> FileInfo:
        body = self._call("GET", "/v1/files/retrieve", params={"file_id": file_id})
        file = body.get("file") or {}
        url = str(file.get("download_url") or "")
        if not url:
            raise TransientError("no_download_url", "The upstream file has no download URL yet.")
        return FileInfo(
            file_id=str(file.get("file_id") or file_id),
            download_url=url,
            bytes=int(file.get("bytes") or 0),
            filename=str(file.get("filename") or ""),
        )

    def open_download(self, url: str) -> requests.Response:
        """A streaming GET of a result file (a signed CDN URL: no Authorization header)."""
        try:
            response = self.session.get(url, stream=True, timeout=self.timeout)
        except requests.Timeout:
            raise TransientError("timeout", "The video download timed out.") from None
        except requests.ConnectionError:
            raise TransientError("connection", "The video host could not be reached.") from None
        if response.status_code in (401, 403, 404, 410):
            response.close()
            # The signed URL expired (video_url lives 9 h, download_url about 1 h): ask again.
            raise TransientError(
                f"http_{response.status_code}", "The video URL has expired; asking again."
            )
        if response.status_code != 200:
            response.close()
            raise TransientError(
                f"http_{response.status_code}",
                f"The video host answered HTTP {response.status_code}.",
            )
        return response


def result_from_body(body: dict, *, task_id: str = "") -> TaskResult:
    """A query answer or a callback push (same shape) as a TaskResult."""
    raw = str(body.get("status") or "")
    status = parse_status(raw)
    if status is None:
        raise TransientError("unknown_status", f"The upstream reported an unknown status {raw!r}.")
    return TaskResult(
        task_id=str(body.get("task_id") or task_id),
        status=status,
        raw_status=raw,
        video_url=str(body.get("video_url") or ""),
        file_id=str(body.get("file_id") or ""),
    )


def client_for_key(key) -> MiniMaxClient:
    from accounts.services import key_secret

    base_url = settings.MINIMAX_CN_BASE_URL if key.region == "cn" else settings.MINIMAX_BASE_URL
    return MiniMaxClient(base_url=base_url, api_key=key_secret(key=key))
