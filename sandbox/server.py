"""A local stand-in for https://api.minimax.io's Video Agent endpoints.

Like the real API, every /v1 answer is HTTP 200 with a JSON body and a ``Trace-Id`` header; the
outcome is only in ``base_resp.status_code``. Endpoints:

- ``POST /v1/video_template_generation`` creates a task (validation failures: 2013).
- ``GET /v1/query/video_template_generation?task_id=ID``: ``Preparing`` for the first 25% of the
  generation time, then ``Processing``, then ``Success`` (with a signed ``video_url`` valid 9 h)
  or ``Fail``. Only the key that created a task may see it; others get 2013 "task not found".
- ``GET /v1/files/retrieve?file_id=ID``: file metadata with a ``download_url`` valid 1 h.
- ``GET /_sandbox/files/<name>.mp4?expires=..&sig=..`` serves the sample MP4 (Range supported);
  HTTP 403 when the signature is wrong or the link expired.
- ``GET /_sandbox/tasks`` lists tasks (keys reduced to their last 4 chars); ``POST
  /_sandbox/reset`` forgets everything. These two are test aids with no upstream equivalent.

Auth is ``Authorization: Bearer <key>``; a missing header or a key not starting with ``sk-``
answers 1004 "authentication failed". Dash-separated words after ``sk-`` switch behaviours on
(combinable, e.g. ``sk-demo-fileid-lower-gen2``):

- ``invalid``   every call answers 2049 "invalid api key".
- ``err<CODE>`` create always answers CODE (e.g. ``err1008`` insufficient balance).
- ``flaky<CODE>`` the key's first create answers CODE, later ones succeed (retry tests).
- ``fail``      tasks end in ``Fail`` (base_resp 0, no video_url).
- ``fileid``    success answers carry ``file_id`` and an empty ``video_url``; use files/retrieve.
- ``lower``     query answers spell statuses preparing/processing/success/failed.
- ``gen<N>``    this key's tasks take N seconds (decimals allowed) instead of the default.
- ``slowquery`` query answers are delayed by 3 s (client timeout tests).

Callbacks: with ``callback_url`` the create first POSTs ``{"challenge": ...}`` there (3 s timeout)
and answers 2013 "callback_url verification failed" unless the same challenge is echoed as JSON.
Then one push when Processing starts and one at the end, shaped like a query answer with the
docs' statuses ``processing``/``failed`` but, copying the docs example, ``"Success"`` capitalised.
Failed pushes are not retried and redirects are not followed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import codes
from .api import SandboxApi, SandboxConfig

log = logging.getLogger("sandbox")

SAMPLE_VIDEO = Path(__file__).resolve().parent / "assets" / "sample.mp4"
# Base64 images are up to 20 MB, about 27 MB once encoded; anything far beyond is refused unread.
MAX_BODY_BYTES = 32 * 1024 * 1024
_FILE_PATH = re.compile(r"/_sandbox/files/([A-Za-z0-9_-]{1,100})\.mp4")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like clients expect from the real API
    server_version = "MiniMaxSandbox/1.0"
    timeout = 30  # idle keep-alive connections do not pin a thread forever
    server: _HTTPServer

    # --- routing -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        api = self.server.sandbox.api
        auth = self.headers.get("Authorization")
        try:
            body = self._read_body() if method == "POST" else b""
            if body is None:
                resp = codes.base_resp(codes.INVALID_PARAMS, "request body too large")
                self._send_json({"task_id": "", "base_resp": resp})
            elif (method, url.path) == ("POST", "/v1/video_template_generation"):
                self._send_json(api.create(auth, body))
            elif (method, url.path) == ("GET", "/v1/query/video_template_generation"):
                self._send_json(api.query(auth, params))
            elif (method, url.path) == ("GET", "/v1/files/retrieve"):
                self._send_json(api.retrieve_file(auth, params))
            elif method in ("GET", "HEAD") and (m := _FILE_PATH.fullmatch(url.path)):
                self._send_video(m.group(1), params, head=method == "HEAD")
            elif (method, url.path) == ("GET", "/_sandbox/tasks"):
                self._send_json(self.server.sandbox.tasks())
            elif (method, url.path) == ("POST", "/_sandbox/reset"):
                self.server.sandbox.reset()
                self._send_json({"ok": True})
            else:
                resp = codes.base_resp(codes.INVALID_PARAMS, f"no route for {method} {url.path}")
                self._send_json({"base_resp": resp}, HTTPStatus.NOT_FOUND)
        except ConnectionError:
            # The client gave up (e.g. a timeout during "slowquery"); nobody is left to answer.
            self.close_connection = True
        except Exception:
            # Upstream-style answer, but loud in the sandbox log: this is a sandbox bug.
            log.exception("sandbox error on %s %s", method, url.path)
            self._send_json({"base_resp": codes.base_resp(codes.UNKNOWN_ERROR)})

    # --- plumbing ------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body makes the connection unusable
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _start(self, status: int, content_type: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Trace-Id", uuid.uuid4().hex)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))

    def _send_json(self, payload: Any, status: int = HTTPStatus.OK) -> None:
        data = json.dumps(payload).encode()
        self._start(status, "application/json; charset=utf-8", len(data))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_video(self, name: str, params: dict[str, str], head: bool) -> None:
        signer = self.server.sandbox.api.signer
        if not signer.verify(name, params.get("expires", ""), params.get("sig", "")):
            self._send_json({"error": "link expired or signature invalid"}, HTTPStatus.FORBIDDEN)
            return
        video = self.server.sandbox.video
        start, end = 0, len(video) - 1
        status = HTTPStatus.OK
        if m := _RANGE.fullmatch(self.headers.get("Range", "").strip()):
            byte_range = _parse_range(m.group(1), m.group(2), len(video))
            if byte_range is None:
                self._start(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "video/mp4", 0)
                self.send_header("Content-Range", f"bytes */{len(video)}")
                self.end_headers()
                return
            start, end = byte_range
            status = HTTPStatus.PARTIAL_CONTENT
        self._start(status, "video/mp4", end - start + 1)
        self.send_header("Accept-Ranges", "bytes")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(video)}")
        self.end_headers()
        if not head:
            self.wfile.write(video[start : end + 1])

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line is logged, never headers, so keys stay out of logs.
        if not self.server.sandbox.quiet:
            super().log_message(format, *args)


def _parse_range(first: str, last: str, size: int) -> tuple[int, int] | None:
    """Resolve one ``bytes=a-b`` range (suffix and open-ended forms too); None if unsatisfiable."""
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    elif last:
        start, end = max(size - int(last), 0), size - 1
    else:
        return None
    return (start, end) if start <= end and start < size else None


class SandboxServer:
    """The sandbox as an object: ``start()`` serves from a daemon thread, ``stop()`` ends it.

    ``port=0`` picks a free port; ``base_url`` is known once started. ``public_url`` (default:
    ``base_url``) is the origin written into ``video_url`` and ``download_url``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8010,
        generation_seconds: float = 8.0,
        *,
        video_url_ttl: float = 9 * 3600.0,
        download_url_ttl: float = 3600.0,
        public_url: str | None = None,
        callback_timeout: float = 3.0,
        slow_query_seconds: float = 3.0,
        quiet: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self.video = SAMPLE_VIDEO.read_bytes()
        self._public_url = public_url
        config = SandboxConfig(
            generation_seconds=generation_seconds,
            video_url_ttl=video_url_ttl,
            download_url_ttl=download_url_ttl,
            callback_timeout=callback_timeout,
            slow_query_seconds=slow_query_seconds,
        )
        self.api = SandboxApi(config, video_size=len(self.video))
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SandboxServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def public_url(self) -> str:
        return (self._public_url or self.base_url).rstrip("/")

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("SandboxServer already started")
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.api.public_url = self.public_url
        self.api.start()
        # A short poll interval keeps stop() (and so every test teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="sandbox-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self.api.close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None
        self._thread = None

    def tasks(self) -> list[dict[str, Any]]:
        """A snapshot of every task, with owner keys reduced to their last 4 characters."""
        return self.api.store.snapshot()

    def reset(self) -> None:
        """Forget all tasks, files, pending pushes and ``flaky`` history."""
        self.api.reset()

    def signed_file_url(self, name: str, expires: int) -> str:
        """A file link as the sandbox would sign it (tests use it to forge expired links)."""
        return self.api.signer.url(self.public_url, name, expires)

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
