"""The sandbox's behaviour, free of HTTP plumbing: each method returns the JSON answer body."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import chaos as faults
from . import codes
from .callbacks import PushScheduler, post_json, verify_challenge
from .chaos import Chaos, GatewayError, digest
from .directives import Directives, parse_directives
from .signing import UrlSigner
from .state import FAIL, PROCESSING, SUCCESS, Task, TaskStore
from .validation import InvalidParams, is_http_url, parse_create

log = logging.getLogger("sandbox")

# Query answers may use the "lower" spellings (directive); pushes always use the docs' lowercase
# list, except that the final success push copies the docs example's capitalised "Success".
LOWER_STATUS = {
    "Preparing": "preparing",
    "Processing": "processing",
    "Success": "success",
    "Fail": "failed",
}
PUSH_STATUS = {"Processing": "processing", "Success": "Success", "Fail": "failed"}
# Chaos mode's second copy of a push is scheduled under this prefix.
DUPLICATE = "duplicate:"


@dataclass
class SandboxConfig:
    generation_seconds: float = 8.0
    video_url_ttl: float = 9 * 3600.0
    download_url_ttl: float = 3600.0
    callback_timeout: float = 3.0
    slow_query_seconds: float = 3.0
    slow_create_seconds: float = 3.0
    slow_file_seconds: float = 3.0


class SandboxApi:
    def __init__(
        self,
        config: SandboxConfig,
        video_size: int,
        public_url: str = "",
        chaos: Chaos | None = None,
    ) -> None:
        self.config = config
        self.chaos = chaos or Chaos()
        self.video_size = video_size  # every generated "video" is the sample asset
        self.public_url = public_url.rstrip("/")
        self.store = TaskStore()
        self.signer = UrlSigner()
        self.scheduler = PushScheduler(self._deliver_push)
        self._stopping = threading.Event()

    def start(self) -> None:
        self.scheduler.start()

    def close(self) -> None:
        self._stopping.set()  # wakes "slowquery" sleepers
        self.scheduler.stop()

    def reset(self) -> None:
        self.scheduler.clear()
        self.store.reset()

    # --- /v1 endpoints -------------------------------------------------------------------------

    def create(self, authorization: str | None, raw_body: bytes) -> dict[str, Any]:
        key, directives, failure = self._authenticate(authorization)
        if failure is not None:
            return {"task_id": "", "base_resp": failure}
        if directives.err:
            return {"task_id": "", "base_resp": codes.base_resp(directives.err)}
        if directives.flaky and self.store.consume_flaky(key):
            return {"task_id": "", "base_resp": codes.base_resp(directives.flaky)}
        try:
            request = parse_create(raw_body)
        except InvalidParams as exc:
            return {"task_id": "", "base_resp": codes.base_resp(codes.INVALID_PARAMS, str(exc))}
        fault = None
        if not directives.nochaos:
            # A retry is the same call, whichever key sends it: its callback URL names the job
            # (the body may not repeat byte for byte: signed image links carry a timestamp).
            identity = request.callback_url or digest(raw_body)
            fault = self.chaos.fault("minimax.create", identity, faults.MINIMAX_CREATE)
        if fault is not None and fault.kind == "http":
            raise GatewayError(fault.code)  # a gateway's answer: nothing reached MiniMax
        if fault is not None and fault.kind == "code":
            return {"task_id": "", "base_resp": codes.base_resp(fault.code)}
        # The real upstream verifies the receiver before it accepts the task.
        if request.callback_url and not verify_challenge(
            request.callback_url, self.config.callback_timeout
        ):
            failure = codes.base_resp(codes.INVALID_PARAMS, "callback_url verification failed")
            return {"task_id": "", "base_resp": failure}

        gen = self.config.generation_seconds if directives.gen is None else directives.gen
        task = self.store.add(
            owner_key=key,
            template_id=request.template_id,
            generation_seconds=gen,
            outcome=FAIL if directives.fail else SUCCESS,
            with_file=directives.fileid,
            callback_url=request.callback_url,
            media_urls=[m for m in request.media_inputs if is_http_url(m)],
        )
        if task.callback_url:
            self._schedule_pushes(task, chaotic=not directives.nochaos)
        if directives.slowcreate:
            # The task exists (and would be billed) before the answer leaves: a client that
            # times out meanwhile has an ambiguous create on its hands.
            self._stopping.wait(self.config.slow_create_seconds)
        elif fault is not None and fault.kind == "late":
            self._stopping.wait(self.chaos.late_seconds)  # the same, by chaos
        return {"task_id": task.task_id, "base_resp": codes.base_resp(codes.SUCCESS)}

    def query(self, authorization: str | None, params: dict[str, str]) -> dict[str, Any]:
        task_id = params.get("task_id", "")
        empty = {"task_id": task_id, "status": "", "video_url": ""}
        key, directives, failure = self._authenticate(authorization)
        if failure is not None:
            return {**empty, "base_resp": failure}
        if not directives.nochaos:
            fault = self.chaos.fault("minimax.query", task_id, faults.MINIMAX_QUERY)
            if fault is not None and fault.kind == "http":
                raise GatewayError(fault.code)
            if fault is not None:
                return {**empty, "base_resp": codes.base_resp(fault.code)}
        if directives.slowquery:
            # Bounded, and cut short when the server stops.
            self._stopping.wait(self.config.slow_query_seconds)
        if not task_id:
            msg = "invalid params, task_id is required"
            return {**empty, "base_resp": codes.base_resp(codes.INVALID_PARAMS, msg)}
        task = self.store.get(task_id, owner_key=key)
        if task is None:
            # Another key's task is indistinguishable from an unknown one, as upstream.
            return {**empty, "base_resp": codes.base_resp(codes.INVALID_PARAMS, "task not found")}
        status = task.status()
        spelled = LOWER_STATUS[status] if directives.lower else status
        return self._task_body(task, status, spelled)

    def retrieve_file(self, authorization: str | None, params: dict[str, str]) -> dict[str, Any]:
        key, directives, failure = self._authenticate(authorization)
        if failure is not None:
            return {"file": None, "base_resp": failure}
        file_id = params.get("file_id", "")
        if not directives.nochaos:
            fault = self.chaos.fault("minimax.retrieve", file_id, faults.MINIMAX_QUERY)
            if fault is not None and fault.kind == "http":
                raise GatewayError(fault.code)
            if fault is not None:
                return {"file": None, "base_resp": codes.base_resp(fault.code)}
        task = self.store.get_by_file(file_id, owner_key=key) if file_id else None
        # A file exists only once its task has succeeded.
        if task is None or task.status() != SUCCESS:
            msg = "file not found" if file_id else "invalid params, file_id is required"
            return {"file": None, "base_resp": codes.base_resp(codes.INVALID_PARAMS, msg)}
        expires = int(time.time() + self.config.download_url_ttl)
        return {
            "file": {
                "file_id": task.file_id,
                "bytes": self.video_size,
                "created_at": int(task.done_at),
                "filename": "output.mp4",
                "purpose": "video_generation",
                "download_url": self.signer.url(self.public_url, f"file-{task.file_id}", expires),
            },
            "base_resp": codes.base_resp(codes.SUCCESS),
        }

    def file_delay(self, name: str) -> float:
        """How long the download of file ``name`` (``video-<task>``, ``file-<file>``) is
        spread over: ``slow_file_seconds`` for tasks of a ``slowfile`` key, else 0."""
        kind, _, ident = name.partition("-")
        task = self.store.get(ident) if kind == "video" else self.store.get_by_file(ident)
        if task is None or not parse_directives(task.owner_key).slowfile:
            return 0.0
        return self.config.slow_file_seconds

    def file_broken(self, name: str) -> bool:
        """True when file ``name`` belongs to a task of a ``badvideo`` key: its bytes are the
        sample's size but do not decode (the portal must not store it as a success)."""
        kind, _, ident = name.partition("-")
        task = self.store.get(ident) if kind == "video" else self.store.get_by_file(ident)
        return task is not None and parse_directives(task.owner_key).badvideo

    def pause(self, seconds: float) -> None:
        """Sleep, cut short when the server stops."""
        self._stopping.wait(seconds)

    # --- helpers -------------------------------------------------------------------------------

    def _authenticate(
        self, authorization: str | None
    ) -> tuple[str, Directives, dict[str, Any] | None]:
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key.startswith("sk-"):
            return "", Directives(), codes.base_resp(codes.AUTH_FAILED)
        directives = parse_directives(key)
        if directives.invalid:
            return key, directives, codes.base_resp(codes.INVALID_API_KEY)
        return key, directives, None

    def _task_body(self, task: Task, status: str, spelled: str) -> dict[str, Any]:
        body: dict[str, Any] = {"task_id": task.task_id, "status": spelled, "video_url": ""}
        if task.file_id is not None:
            # fileid keys: the video is only reachable through /v1/files/retrieve.
            body["file_id"] = task.file_id if status == SUCCESS else ""
        elif status == SUCCESS:
            # Fixed expiry counted from completion, so the link dies 9 h after the video is made.
            expires = int(task.done_at + self.config.video_url_ttl)
            body["video_url"] = self.signer.url(self.public_url, f"video-{task.task_id}", expires)
        body["base_resp"] = codes.base_resp(codes.SUCCESS)
        return body

    def _schedule_pushes(self, task: Task, *, chaotic: bool) -> None:
        pushes = [(task.processing_monotonic, PROCESSING), (task.done_monotonic, task.outcome)]
        if chaotic and self.chaos.chance("minimax.push.reorder", task.task_id):
            # The "processing" push is late: it arrives after the final one.
            late = self.chaos.offset("reorder", task.task_id, 0.2, 1.0)
            pushes[0] = (task.done_monotonic + late, PROCESSING)
        for due, status in pushes:
            self.scheduler.schedule(due, task.task_id, status)
            twin = f"{task.task_id}:{status}"
            if chaotic and self.chaos.chance("minimax.push.duplicate", twin):
                again = due + self.chaos.offset("duplicate", twin, 0.1, 1.5)
                self.scheduler.schedule(again, task.task_id, DUPLICATE + status)

    def _deliver_push(self, task_id: str, event: str) -> None:
        task = self.store.get(task_id)
        if task is None or not task.callback_url:
            return  # reset since scheduling
        status = event.removeprefix(DUPLICATE)
        payload = self._task_body(task, status, PUSH_STATUS[status])
        entry: dict[str, Any] = {"status": payload["status"], "at": time.time(), "ok": True}
        if status != event:
            entry["duplicate"] = True
            self.chaos.note("minimax.push.delivered_duplicate")
        try:
            post_json(task.callback_url, payload, self.config.callback_timeout)
        except Exception as exc:
            # No retries: the real upstream documents none.
            entry.update(ok=False, error=str(exc))
            log.info("push %s for task %s failed: %s", status, task_id, exc)
        self.store.record_push(task, entry)
