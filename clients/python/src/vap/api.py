"""The portal's JSON API over httpx, one method per operation of its OpenAPI document.

Each call names its operation id (`videos_create`, ...) and OPERATIONS maps them to method
and path, so a test can hold this table against the live `/api/v1/openapi.json`. Files and
event streams are streamed (a video goes to disk in chunks, events arrive as they happen).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from vap import __version__

# operation id -> (method, path under /api/v1)
OPERATIONS: dict[str, tuple[str, str]] = {
    "templates_list": ("GET", "/templates"),
    "keys_list": ("GET", "/keys"),
    "videos_create": ("POST", "/videos"),
    "videos_list": ("GET", "/videos"),
    "videos_get": ("GET", "/videos/{video_id}"),
    "videos_cancel": ("POST", "/videos/{video_id}/cancel"),
    "videos_events": ("GET", "/videos/{video_id}/events"),
    "videos_download": ("GET", "/videos/{video_id}/download"),
    "batches_create": ("POST", "/batches"),
    "batches_list": ("GET", "/batches"),
    "batches_get": ("GET", "/batches/{batch_id}"),
    "batches_cancel": ("POST", "/batches/{batch_id}/cancel"),
    "batches_retry": ("POST", "/batches/{batch_id}/retry"),
    "batches_archive": ("GET", "/batches/{batch_id}/archive"),
    "usage_get": ("GET", "/usage"),
}

TERMINAL = {"succeeded", "failed", "canceled"}


class ApiError(Exception):
    """An answer of 400 or more, as the API words it: `{"detail", "code", "field"?}`."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        field: str | None = None,
        body: dict | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.body = body or {}

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field and self.field not in self.detail else ""
        return f"{self.detail}{where} [HTTP {self.status} {self.code}]"


class ConnectionFailed(Exception):
    """The portal could not be reached at all (or stopped answering)."""


@dataclass(frozen=True)
class Event:
    """One server-sent event: `event` is its kind (status, progress, video, done, ...)."""

    event: str
    data: dict[str, Any]
    id: str | None = None


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = json.loads(response.read() or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or response.reason_phrase or "request refused")
    return ApiError(
        response.status_code,
        str(body.get("code") or f"http_{response.status_code}"),
        detail,
        body.get("field") if isinstance(body.get("field"), str) else None,
        body,
    )


class Api:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ):
        # The portal's address; the API's own (…/api/v1) is taken too.
        self.base_url = base_url.rstrip("/").removesuffix("/api/v1")
        self.create_retries = 2
        self.sleep = time.sleep
        self.http = httpx.Client(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"vap/{__version__}"},
            # Reading a stream may be quiet for a while (the server pings every 15 s).
            timeout=httpx.Timeout(timeout, read=max(timeout, 60.0)),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    # --- plumbing -------------------------------------------------------------------------

    def _request(self, operation: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        method, path = OPERATIONS[operation]
        # Quoted: an id typed by the user must stay one path segment.
        params = {k: quote(str(v), safe="") for k, v in kwargs.pop("path_params", {}).items()}
        path = path.format(**params)
        request = self.http.build_request(method, path, **kwargs)
        try:
            response = self.http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                raise _error_of(response)
            finally:
                response.close()
        return response

    def _json(self, operation: str, **kwargs: Any) -> Any:
        response = self._request(operation, **kwargs)
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ConnectionFailed(
                f"{self.base_url} did not answer JSON (is VAP_URL the portal?)"
            ) from exc

    def _stream_to(self, operation: str, out: Path, **kwargs: Any) -> int:
        """The answer's body into `out`, in chunks; the file appears only once complete."""
        out.parent.mkdir(parents=True, exist_ok=True)
        response = self._request(operation, stream=True, **kwargs)
        written = 0
        fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as file:
                for chunk in response.iter_bytes(1 << 16):
                    file.write(chunk)
                    written += len(chunk)
            os.replace(partial, out)
        except httpx.TransportError as exc:
            Path(partial).unlink(missing_ok=True)
            raise ConnectionFailed(f"the download broke off: {exc}") from exc
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        finally:
            response.close()
        return written

    # --- operations -----------------------------------------------------------------------

    def templates(self, provider: str | None = None) -> list[dict]:
        params = {"provider": provider} if provider else {}
        return self._json("templates_list", params=params)["items"]

    def _create(self, operation: str, body: dict, idempotency_key: str | None) -> dict:
        """A create, sent again when its answer is lost: with the same Idempotency-Key the
        portal answers the first object again rather than making a second one."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        for attempt in range(self.create_retries + 1):
            try:
                return self._json(operation, json=body, headers=headers)
            except ConnectionFailed:
                if not idempotency_key or attempt == self.create_retries:
                    raise
                self.sleep(2.0**attempt)
        raise AssertionError("unreachable")

    def vault_keys(self) -> list[dict]:
        """The caller's keys and those shared with the token's team (never a secret)."""
        return self._json("keys_list")["items"]

    def video_create(self, body: dict, *, idempotency_key: str | None = None) -> dict:
        return self._create("videos_create", body, idempotency_key)

    def video_get(self, video_id: str) -> dict:
        return self._json("videos_get", path_params={"video_id": video_id})

    def video_cancel(self, video_id: str) -> dict:
        return self._json("videos_cancel", path_params={"video_id": video_id})

    def videos(self, *, status: str | None = None, limit: int = 20) -> Iterator[dict]:
        """Newest first, following `next_cursor` as long as the caller keeps reading."""
        params: dict[str, Any] = {"limit": min(limit, 100)}
        if status:
            params["status"] = status
        while True:
            page = self._json("videos_list", params=params)
            yield from page["items"]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def video_download(self, video_id: str, out: Path) -> int:
        return self._stream_to("videos_download", out, path_params={"video_id": video_id})

    def video_events(self, video_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        response = self._request(
            "videos_events", stream=True, headers=headers, path_params={"video_id": video_id}
        )
        try:
            yield from parse_events(response.iter_lines())
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"the event stream broke off: {exc}") from exc
        finally:
            response.close()

    def batch_create(self, body: dict, *, idempotency_key: str | None = None) -> dict:
        return self._create("batches_create", body, idempotency_key)

    def batch_get(self, batch_id: str) -> dict:
        return self._json("batches_get", path_params={"batch_id": batch_id})

    def batches(self) -> list[dict]:
        return self._json("batches_list")["items"]

    def batch_cancel(self, batch_id: str) -> dict:
        return self._json("batches_cancel", path_params={"batch_id": batch_id})

    def batch_retry(self, batch_id: str) -> dict:
        return self._json("batches_retry", path_params={"batch_id": batch_id})

    def batch_archive(self, batch_id: str, out: Path) -> int:
        return self._stream_to("batches_archive", out, path_params={"batch_id": batch_id})


def parse_events(lines: Iterator[str]) -> Iterator[Event]:
    """Server-sent events from a stream's lines (WHATWG rules: `data` lines joined, comments
    and `retry` skipped, a blank line ends an event)."""
    kind, event_id = "message", None
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                try:
                    payload = json.loads("\n".join(data))
                except ValueError:
                    payload = {"text": "\n".join(data)}
                yield Event(
                    kind, payload if isinstance(payload, dict) else {"value": payload}, event_id
                )
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
