"""A local stand-in for https://api.minimax.io's Video Agent endpoints and useapi.net's proxy.

Two flavours share one server and port: MiniMax official under ``/v1/...`` (below) and the
useapi.net MiniMax proxy under ``/v1/minimax/...`` (after it).

MiniMax official. Like the real API, every /v1 answer is HTTP 200 with a JSON body and a
``Trace-Id`` header; the outcome is only in ``base_resp.status_code``. Endpoints:

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
- ``slowcreate`` the create makes the task, then answers 3 s late (ambiguous creates).
- ``slowfile``  downloads of this key's videos are spread over ``slow_file_seconds`` (3 s).
- ``nochaos``   chaos mode (below) leaves this key's calls and pushes alone.
- ``badvideo``  this key's result files do not decode (the sample's header, then noise).

Callbacks: with ``callback_url`` the create first POSTs ``{"challenge": ...}`` there (3 s timeout)
and answers 2013 "callback_url verification failed" unless the same challenge is echoed as JSON.
Then one push when Processing starts and one at the end, shaped like a query answer with the
docs' statuses ``processing``/``failed`` but, copying the docs example, ``"Success"`` capitalised.
Failed pushes are not retried and redirects are not followed.

useapi.net MiniMax proxy (``/v1/minimax/``; contract in /tmp/spec/useapi-contract.md, code in
``sandbox.useapi``). Real HTTP statuses: errors are ``{"error": "..."}`` with 400, 401, 402/412,
404, 410, 429 (with ``Retry-After``), 5xx or 596. Endpoints:

- ``POST files/`` raw ``image/png`` or ``image/jpeg`` body (``?account=``) -> ``{fileID, ossPath}``.
- ``POST videos/agent-create`` (JSON, multipart or urlencoded) answers ``text/event-stream``
  without Content-Length and closes: created, connected, heartbeats, progress (type 1 texts,
  type 2 image then video attachments, type 3 recommendations), finished, spread over the
  generation time. Dropping the stream changes nothing: the video lives by the clock.
- ``GET videos/{videoId}``: status 0 pending (first 10 %), 11 queued (next 10 %), 12 processing
  with ``percent``, then 2 completed (``videoURL``, ``downloadURL``, ``coverURL``) or 3 failed / 7
  moderated. Another token's video is 404. ``GET videos/`` lists them, newest first.
- ``GET scheduler/`` (running videos), ``GET scheduler/available``, ``GET accounts``, ``POST
  videos/cancel`` (running -> status 3 "canceled"), ``GET videos/agent-templates`` (6 templates,
  ``limit``/``lastId`` paging, ``?templateId=`` for one template's detail).
- replyUrl: one unsigned POST (no retries, no redirects) shaped like ``GET videos/{id}`` when the
  video becomes final, including by cancel.
- ``GET /_sandbox/useapi/files/<name>.(mp4|png)?expires=..&sig=..`` serves results (the sample
  MP4, generated PNGs); 403 when forged or expired. ``GET /_sandbox/useapi/videos`` lists every
  video (tokens cut to their last 4 chars); ``POST /_sandbox/reset`` resets both flavours.

Auth is ``Authorization: Bearer user:<number>-<string>``; anything else answers 401
``{"error": "Unauthorized"}``. Dash-separated words of ``<string>`` switch behaviours on
(combinable, e.g. ``user:77-demo-gen3-free``):

- ``invalid``      every call answers 401.
- ``err<HTTP>``    agent-create always answers HTTP (``err429``: with ``Retry-After: 2``).
- ``flaky<HTTP>``  the token's first agent-create answers HTTP, later ones work.
- ``gen<N>``       this token's videos take N seconds (decimals allowed).
- ``fail``         videos end with status 3, message "Generation failed".
- ``moderated``    videos end with status 7, message "The content did not pass moderation".
- ``removed``      once done, ``GET videos/{id}`` answers 404 (moderated and removed).
- ``free``         no ``downloadURL``: only the watermarked ``videoURL``.
- ``cut``          the stream closes after one heartbeat, before any videoId; the video exists.
- ``cutafter``     the stream closes right after the ``created`` event.
- ``novideoid``    heartbeats only, then the stream ends; no video is created.
- ``poll596``      the first ``GET videos/{id}`` of each video answers 596.
- ``busy``         one video at a time per account (otherwise ``maxJobs``, default 3); beyond
  it agent-create answers 429 with ``Retry-After: 3``.
- ``slowupload``   ``POST files/`` stores the file, then answers ``slow_upload_seconds`` (3 s)
  late.
- ``nochaos``      chaos mode (below) leaves this token's calls and replies alone.

Chaos mode (opt-in; off by default, and then nothing above changes): ``SandboxServer(chaos=0.3,
chaos_seed=7)`` or ``python -m sandbox --chaos 0.3 --chaos-seed 7`` faults about 30 % of the
calls to create, query, files/retrieve, useapi's ``POST files/``, agent-create and ``GET
videos/{id}`` transiently: MiniMax codes 1000/1001/1033 (and ``chaos_rate_limits`` times
1002), HTTP 502 (and 596, 429 for useapi), creates that make the task but answer after
``chaos_late_seconds``, useapi streams dropped before they name the video; and it duplicates
and reorders pushes. Decisions are deterministic per seed and request, and no request is
faulted more than ``chaos_max_run`` times in a row; the details are in ``sandbox.chaos``.
``chaos_stats()`` (``GET /_sandbox/chaos``) tallies what was done. A gateway's 502 answers
``text/html``, not JSON, like a real one.

Test aids for every mode: ``in_flight()`` lists the requests being answered right now (method,
path, the client's port, the key's last 4 characters, seconds so far), so a test can tell
which client process is inside a slow call; ``pending_pushes()`` counts the pushes and replyUrl
posts still to be sent.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from . import codes
from .api import SandboxApi, SandboxConfig
from .chaos import Chaos, GatewayError
from .signing import UrlSigner
from .useapi.answers import Answer, UseapiError
from .useapi.api import UseapiApi, UseapiConfig
from .useapi.stream import AgentStream

log = logging.getLogger("sandbox")

SAMPLE_VIDEO = Path(__file__).resolve().parent / "assets" / "sample.mp4"


def broken_video(video: bytes) -> bytes:
    """The sample's first 64 bytes (an MP4 `ftyp` box and a box header), then bytes that are
    no video: what a truncated or corrupted upload at the upstream looks like."""
    return video[:64] + bytes((i * 37) % 251 for i in range(len(video) - 64))


# Base64 images are up to 20 MB, about 27 MB once encoded; anything far beyond is refused unread.
MAX_BODY_BYTES = 32 * 1024 * 1024
_FILE_PATH = re.compile(r"/_sandbox/files/([A-Za-z0-9_-]{1,100})\.mp4")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
USEAPI_PREFIX = "/v1/minimax"
_USEAPI_FILE = re.compile(r"/_sandbox/useapi/files/([A-Za-z0-9_-]{1,100})\.(mp4|png)")
TRICKLE_PIECES = 6  # a ``slowfile`` download arrives in this many pieces, evenly spread


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
        sandbox = self.server.sandbox
        ticket = sandbox._begin(method, url.path, self.client_address, self.headers)
        try:
            self._route(method, url)
        finally:
            sandbox._end(ticket)

    def _route(self, method: str, url: SplitResult) -> None:
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        api = self.server.sandbox.api
        auth = self.headers.get("Authorization")
        try:
            body = self._read_body() if method == "POST" else b""
            if _is_useapi(url.path):
                self._dispatch_useapi(method, url.path, params, body)
            elif body is None:
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
            elif (method, url.path) == ("GET", "/_sandbox/chaos"):
                self._send_json(self.server.sandbox.chaos_stats())
            else:
                resp = codes.base_resp(codes.INVALID_PARAMS, f"no route for {method} {url.path}")
                self._send_json({"base_resp": resp}, HTTPStatus.NOT_FOUND)
        except GatewayError as exc:
            self._send_gateway_error(exc.status)
        except ConnectionError:
            # The client gave up (e.g. a timeout during "slowquery"); nobody is left to answer.
            self.close_connection = True
        except Exception:
            # Upstream-style answer, but loud in the sandbox log: this is a sandbox bug.
            log.exception("sandbox error on %s %s", method, url.path)
            self._send_json({"base_resp": codes.base_resp(codes.UNKNOWN_ERROR)})

    # --- the useapi.net flavour ----------------------------------------------------------------

    def _dispatch_useapi(
        self, method: str, path: str, params: dict[str, str], body: bytes | None
    ) -> None:
        sandbox = self.server.sandbox
        if method in ("GET", "HEAD") and (m := _USEAPI_FILE.fullmatch(path)):
            found = sandbox.useapi.file(m.group(1), m.group(2), params)
            if found is None:
                self._send_json({"error": "link expired or signature invalid"}, 403)
            else:
                self._send_file(found[1], found[0], head=method == "HEAD")
            return
        if (method, path) == ("GET", "/_sandbox/useapi/videos"):
            self._send_json(sandbox.useapi_videos())
            return
        try:
            if body is None:
                raise UseapiError(413, "Request body too large")
            answer = self._useapi_route(method, path, params, body)
        except UseapiError as exc:
            answer = exc.answer()
        except Exception:
            log.exception("sandbox error on %s %s", method, path)
            answer = UseapiError(500, "sandbox error").answer()
        if isinstance(answer, AgentStream):
            self._send_event_stream(answer)
        else:
            self._send_json(answer.payload, answer.status, answer.headers)

    def _useapi_route(
        self, method: str, path: str, params: dict[str, str], body: bytes
    ) -> Answer | AgentStream:
        useapi = self.server.sandbox.useapi
        # Trailing slashes are optional, as useapi's docs spell routes both ways.
        route = path.removeprefix(USEAPI_PREFIX).strip("/")
        auth = self.headers.get("Authorization")
        content_type = self.headers.get("Content-Type", "")
        if method == "POST":
            if route == "files":
                return useapi.upload_file(auth, params, body, content_type)
            if route == "videos/agent-create":
                return useapi.agent_create(auth, body, content_type)
            if route == "videos/cancel":
                return useapi.cancel(auth, body, content_type)
        elif method == "GET":
            if route == "videos":
                return useapi.list_videos(auth, params)
            if route == "videos/agent-templates":
                return useapi.agent_templates(auth, params)
            if route == "scheduler":
                return useapi.scheduler(auth)
            if route == "scheduler/available":
                return useapi.scheduler_available(auth)
            if route == "accounts":
                return useapi.accounts(auth)
            if route.startswith("videos/") and route.count("/") == 1:
                # videoIds hold colons, which clients may send percent-encoded.
                return useapi.get_video(auth, unquote(route.removeprefix("videos/")))
        raise UseapiError(404, f"No route for {method} {path}")

    def _send_event_stream(self, stream: AgentStream) -> None:
        """Write agent-create's events as they fall due: no Content-Length, then close."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the end of the body is the end of the stream
        self.end_headers()
        try:
            for event in stream.events():
                self.wfile.write(event)
                self.wfile.flush()
        except OSError:
            # The client left (our provider does, once it has the videoId). Nothing to log:
            # the video's life is derived from the clock and goes on without the stream.
            pass
        except Exception:
            log.exception("sandbox error while streaming agent-create events")
        self.close_connection = True

    # --- plumbing ------------------------------------------------------------------------------

    def _send_gateway_error(self, status: int) -> None:
        """What a proxy in front of the upstream answers: HTML, not the API's JSON."""
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        data = f"<html><body><h1>{status} {phrase}</h1></body></html>".encode()
        self._start(status, "text/html", len(data))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

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

    def _send_json(
        self, payload: Any, status: int = HTTPStatus.OK, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self._start(status, "application/json; charset=utf-8", len(data))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_video(self, name: str, params: dict[str, str], head: bool) -> None:
        signer = self.server.sandbox.api.signer
        if not signer.verify(name, params.get("expires", ""), params.get("sig", "")):
            self._send_json({"error": "link expired or signature invalid"}, HTTPStatus.FORBIDDEN)
            return
        api = self.server.sandbox.api
        video = self.server.sandbox.video
        if api.file_broken(name):
            video = broken_video(video)
        self._send_file(video, "video/mp4", head, spread=api.file_delay(name))

    def _send_file(self, data: bytes, content_type: str, head: bool, spread: float = 0.0) -> None:
        """Serve ``data`` whole or as one requested byte range; ``spread`` > 0 trickles the
        body out in pieces over that many seconds (``slowfile``)."""
        start, end = 0, len(data) - 1
        status = HTTPStatus.OK
        if m := _RANGE.fullmatch(self.headers.get("Range", "").strip()):
            byte_range = _parse_range(m.group(1), m.group(2), len(data))
            if byte_range is None:
                self._start(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, content_type, 0)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            start, end = byte_range
            status = HTTPStatus.PARTIAL_CONTENT
        self._start(status, content_type, end - start + 1)
        self.send_header("Accept-Ranges", "bytes")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if head:
            return
        body = data[start : end + 1]
        if spread <= 0:
            self.wfile.write(body)
            return
        step = -(-len(body) // TRICKLE_PIECES)
        for offset in range(0, len(body), step):
            self.server.sandbox.api.pause(spread / TRICKLE_PIECES)
            self.wfile.write(body[offset : offset + step])
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line is logged, never headers, so keys stay out of logs.
        if not self.server.sandbox.quiet:
            super().log_message(format, *args)


def _is_useapi(path: str) -> bool:
    return (
        path == USEAPI_PREFIX
        or path.startswith(USEAPI_PREFIX + "/")
        or path.startswith("/_sandbox/useapi/")
    )


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
    ``base_url``) is the origin written into ``video_url`` and ``download_url`` (and into the
    useapi flavour's result links).

    The useapi flavour's knobs: ``useapi_generation_seconds`` (default: ``generation_seconds``),
    ``heartbeat_seconds`` between stream heartbeats, ``useapi_retry_after`` (the Retry-After of
    ``err429``/``flaky429``), ``useapi_busy_retry_after`` (no free job slot), ``useapi_url_ttl``
    (result links, from completion) and ``useapi_retention_seconds`` (then 410). replyUrl posts
    use ``callback_timeout``.

    Chaos mode (module docstring, ``sandbox.chaos``): ``chaos`` is the share of faultable
    calls to fault (0, the default, turns it off), ``chaos_seed`` makes the run repeatable,
    ``chaos_max_run`` caps the faults in a row per request, ``chaos_rate_limits`` the MiniMax
    1002 answers in all, ``chaos_late_seconds`` how late a ``late`` create answers.
    ``slow_file_seconds`` and ``slow_upload_seconds`` are the ``slowfile``/``slowupload`` delays.
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
        slow_create_seconds: float = 3.0,
        quiet: bool = True,
        useapi_generation_seconds: float | None = None,
        heartbeat_seconds: float = 1.0,
        useapi_retry_after: int = 2,
        useapi_busy_retry_after: int = 3,
        useapi_url_ttl: float = 24 * 3600.0,
        useapi_retention_seconds: float = 31 * 86400.0,
        slow_file_seconds: float = 3.0,
        slow_upload_seconds: float = 3.0,
        chaos: float = 0.0,
        chaos_seed: int = 0,
        chaos_max_run: int = 2,
        chaos_rate_limits: int = 1,
        chaos_late_seconds: float = 3.0,
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
            slow_create_seconds=slow_create_seconds,
            slow_file_seconds=slow_file_seconds,
        )
        # One oracle for both flavours, so one seed repeats a whole mixed run.
        self.chaos = Chaos(
            chaos,
            chaos_seed,
            max_run=chaos_max_run,
            rate_limits=chaos_rate_limits,
            late_seconds=chaos_late_seconds,
        )
        self.api = SandboxApi(config, video_size=len(self.video), chaos=self.chaos)
        useapi_config = UseapiConfig(
            generation_seconds=(
                generation_seconds
                if useapi_generation_seconds is None
                else useapi_generation_seconds
            ),
            heartbeat_seconds=heartbeat_seconds,
            retry_after=useapi_retry_after,
            busy_retry_after=useapi_busy_retry_after,
            url_ttl=useapi_url_ttl,
            reply_timeout=callback_timeout,
            retention_seconds=useapi_retention_seconds,
            slow_upload_seconds=slow_upload_seconds,
        )
        # Its own signing secret: a link of one flavour can never verify as the other's.
        self.useapi = UseapiApi(useapi_config, self.video, UrlSigner(), chaos=self.chaos)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._requests_lock = threading.Lock()
        self._requests: dict[int, dict[str, Any]] = {}
        self._request_numbers = itertools.count()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SandboxServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def public_url(self) -> str:
        return (self._public_url or self.base_url).rstrip("/")

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("SandboxServer already started")
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.api.public_url = self.public_url
        self.api.start()
        self.useapi.public_url = self.public_url
        self.useapi.start()
        # A short poll interval keeps stop() (and so every test teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="sandbox-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.useapi.stopping.set()  # open event streams end now instead of at their last event
        self._httpd.shutdown()
        self._httpd.server_close()
        self.api.close()
        self.useapi.close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None
        self._thread = None

    def tasks(self) -> list[dict[str, Any]]:
        """A snapshot of every task, with owner keys reduced to their last 4 characters."""
        return self.api.store.snapshot()

    def useapi_videos(self) -> list[dict[str, Any]]:
        """Every useapi video, oldest first (as ``GET /_sandbox/useapi/videos``), tokens cut to
        their last 4 characters: ``videoId``, ``token_last4``, ``account``, ``templateId``,
        ``replyRef``, ``replyUrl``, ``status``, ``statusLabel``, ``final``, ``removed``,
        ``outcome``, ``created``/``started``/``ended`` (epoch seconds; ``started`` is when
        processing began, ``ended`` when it became final, None until then), ``canceled``,
        ``generation_seconds``, ``create_calls``, ``call_number``, ``polls`` and ``replies``.
        """
        return self.useapi.snapshot()

    def reset(self) -> None:
        """Forget both flavours' tasks, videos, files, pending pushes and ``flaky`` history
        (and chaos mode's tally and request counts)."""
        self.api.reset()
        self.useapi.reset()
        self.chaos.reset()

    def chaos_stats(self) -> dict[str, Any]:
        """What chaos mode did so far (``sandbox.chaos.Chaos.stats``)."""
        return self.chaos.stats()

    def pending_pushes(self) -> int:
        """MiniMax pushes and useapi replyUrl posts scheduled but not sent yet."""
        return self.api.scheduler.pending() + self.useapi.replies.pending()

    def in_flight(self) -> list[dict[str, Any]]:
        """The requests being answered now, oldest first: ``method``, ``path``,
        ``client_port``, ``key_last4`` (of the Bearer key, "" without one) and ``seconds``."""
        now = time.monotonic()
        with self._requests_lock:
            rows = sorted(self._requests.values(), key=lambda r: r["since"])
            return [
                {**{k: v for k, v in r.items() if k != "since"}, "seconds": now - r["since"]}
                for r in rows
            ]

    def _begin(self, method: str, path: str, client: Any, headers: Any) -> int:
        _, _, key = (headers.get("Authorization") or "").partition(" ")
        number = next(self._request_numbers)
        with self._requests_lock:
            self._requests[number] = {
                "method": method,
                "path": path,
                "client_port": int(client[1]) if len(client) > 1 else 0,
                "key_last4": key.strip()[-4:],  # never the whole key, as everywhere
                "since": time.monotonic(),
            }
        return number

    def _end(self, number: int) -> None:
        with self._requests_lock:
            self._requests.pop(number, None)

    def signed_file_url(self, name: str, expires: int) -> str:
        """A file link as the sandbox would sign it (tests use it to forge expired links)."""
        return self.api.signer.url(self.public_url, name, expires)

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
