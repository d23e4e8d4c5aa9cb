"""The useapi flavour's behaviour, free of HTTP plumbing: one method per endpoint.

Each method returns an ``Answer`` (status, JSON payload, extra headers) or, for agent-create, an
``AgentStream``; any refusal is raised as ``UseapiError`` and answered ``{"error": ...}``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import chaos as faults
from ..callbacks import PushScheduler, post_json
from ..chaos import Chaos, Fault, digest
from ..png import PALETTE, gradient_png
from ..signing import UrlSigner
from . import stream
from .answers import NOT_FOUND, UNAUTHORIZED, Answer, UseapiError
from .catalogue import ORDER, TEMPLATES, Template
from .directives import TOKEN, Directives, parse_directives
from .parsing import media_type, parse_create, parse_fields
from .state import (
    COMPLETED,
    DEFAULT_ACCOUNT,
    DEFAULT_MAX_JOBS,
    LABELS,
    OUTCOME_COMPLETED,
    OUTCOME_FAILED,
    OUTCOME_MODERATED,
    OUTCOME_REMOVED,
    PROCESSING,
    Phase,
    UseapiStore,
    Video,
)

log = logging.getLogger("sandbox")

UPLOAD_TYPES = ("image/png", "image/jpeg")
# The sample asset's own size and length, so the metadata matches what is downloaded.
SAMPLE_WIDTH, SAMPLE_HEIGHT, SAMPLE_SECONDS = 320, 240, 3
_ACCOUNT = re.compile(r"[A-Za-z0-9_.]{1,64}")
BUSY_MAX_JOBS = 1  # the "busy" switch: an account that runs one video at a time


@dataclass
class UseapiConfig:
    generation_seconds: float = 8.0
    heartbeat_seconds: float = 1.0
    retry_after: int = 2  # Retry-After of err429 / flaky429
    busy_retry_after: int = 3  # Retry-After when the account has no free slot
    url_ttl: float = 24 * 3600.0  # result links, counted from the video's completion
    reply_timeout: float = 3.0
    retention_seconds: float = 31 * 86400.0  # past this, GET videos/{id} answers 410
    slow_upload_seconds: float = 3.0  # how late a ``slowupload`` token's uploads answer


class UseapiApi:
    def __init__(
        self,
        config: UseapiConfig,
        video: bytes,
        signer: UrlSigner,
        public_url: str = "",
        chaos: Chaos | None = None,
    ) -> None:
        self.config = config
        self.chaos = chaos or Chaos()
        self.video = video  # every result and preview clip is the sample MP4
        self.signer = signer
        self.public_url = public_url.rstrip("/")
        self.store = UseapiStore()
        self.replies = PushScheduler(self._deliver_reply)
        self.stopping = threading.Event()  # ends every open event stream

    def start(self) -> None:
        self.replies.start()

    def close(self) -> None:
        self.stopping.set()
        self.replies.stop()

    def reset(self) -> None:
        self.replies.clear()
        self.store.reset()

    # --- files ---------------------------------------------------------------------------------

    def upload_file(
        self, authorization: str | None, params: dict[str, str], body: bytes, content_type: str
    ) -> Answer:
        token, directives = self._authenticate(authorization)
        # By the image alone: a retry is the same call, whichever token sends it.
        self._chaos_refusal(directives, "useapi.upload", digest(body), faults.USEAPI_UPLOAD)
        kind = media_type(content_type)
        if kind not in UPLOAD_TYPES:
            raise UseapiError(400, "Content-Type must be image/png or image/jpeg")
        if not body:
            raise UseapiError(400, "The request body (the file) is empty")
        account = _account(params.get("account", ""))
        upload = self.store.add_file(token, account, kind, len(body))
        if directives.slowupload:
            # Stored, but answered late: a client that gives up meanwhile uploads again.
            self.stopping.wait(self.config.slow_upload_seconds)
        return Answer(200, {"fileID": upload.file_id, "ossPath": upload.oss_path})

    # --- agent-create --------------------------------------------------------------------------

    def agent_create(
        self, authorization: str | None, body: bytes, content_type: str
    ) -> stream.AgentStream:
        token, directives = self._authenticate(authorization)
        call_number = self.store.count_call(token)
        if directives.err:
            raise self._switched_error(directives.err)
        if directives.flaky and self.store.consume_flaky(token):
            raise self._switched_error(directives.flaky)
        request = parse_create(parse_fields(body, content_type))
        template = TEMPLATES.get(request.template_id)
        if template is None:
            raise UseapiError(404, NOT_FOUND)
        account = _account(request.account) if request.account else ""
        if request.file_id:
            upload = self.store.get_file(request.file_id, token)
            if upload is None:
                raise UseapiError(400, "fileID is not a file uploaded with this token")
            if request.oss_path != upload.oss_path:
                raise UseapiError(400, "ossPath does not match fileID")
            account = account or upload.account
        _check_inputs(template, has_image=bool(request.file_id), prompt=request.prompt)
        identity = request.reply_ref or digest(body)
        fault = self._chaos_refusal(directives, "useapi.create", identity, faults.USEAPI_CREATE)

        heartbeat = self.config.heartbeat_seconds
        if directives.novideoid:
            return stream.AgentStream(self.stopping, stream.no_video_id_plan(heartbeat))
        limit = BUSY_MAX_JOBS if directives.busy else (request.max_jobs or DEFAULT_MAX_JOBS)
        gen = self.config.generation_seconds if directives.gen is None else directives.gen
        video = self.store.add_video_if_room(
            limit,
            token=token,
            account=account or DEFAULT_ACCOUNT,
            template_id=template.template_id,
            prompt=request.prompt,
            file_id=request.file_id,
            reply_url=request.reply_url,
            reply_ref=request.reply_ref,
            generation_seconds=gen,
            outcome=_outcome(directives),
            free=directives.free,
            poll596=directives.poll596,
            call_number=call_number,
        )
        if video is None:
            message = "All job slots of the account are busy; retry later"
            raise UseapiError(429, message, retry_after=self.config.busy_retry_after)
        if video.reply_url:
            # Fires when the video is final even if nobody polls; cancel fires it sooner.
            self.replies.schedule(video.done_monotonic, video.video_id, "final")
            if not directives.nochaos:
                self._schedule_chaos_replies(video)
        start_monotonic, start_wall = video.created_monotonic, video.created_at
        if fault is not None and fault.kind == "late":
            # The video exists; the stream says nothing until the client has given up.
            start_monotonic += self.chaos.late_seconds
            start_wall += self.chaos.late_seconds
        if directives.cut or (fault is not None and fault.kind == "cut"):
            plan = stream.cut_plan(heartbeat)
        elif directives.cutafter:
            plan = stream.cut_after_plan()
        else:
            plan = stream.video_plan(video, heartbeat)
        links = stream.StreamLinks(
            image_url=self._video_link(video, "image", "png"),
            video_url=self._video_link(video, "wm", "mp4"),
        )
        return stream.AgentStream(
            self.stopping,
            plan,
            video,
            links,
            start_monotonic=start_monotonic,
            start_wall=start_wall,
        )

    # --- videos --------------------------------------------------------------------------------

    def get_video(self, authorization: str | None, video_id: str) -> Answer:
        token, directives = self._authenticate(authorization)
        self._chaos_refusal(directives, "useapi.video", video_id, faults.USEAPI_VIDEO)
        video = self.store.get(video_id, token)
        if video is None:
            raise UseapiError(404, NOT_FOUND)
        if time.time() - video.created_at > self.config.retention_seconds:
            raise UseapiError(410, "The video is past its retention period and was deleted")
        if self.store.note_poll(video) == 0 and video.poll596:
            raise UseapiError(596)
        phase = video.phase()
        if phase.removed:
            raise UseapiError(404, NOT_FOUND)
        return Answer(200, self._video_body(video, phase))

    def list_videos(self, authorization: str | None, params: dict[str, str]) -> Answer:
        token, _ = self._authenticate(authorization)
        account = _account(params["account"]) if params.get("account") else ""
        limit = _limit(params.get("limit"))
        now = time.monotonic()
        visible = [
            (v, p) for v in self.store.videos_of(token, account) if not (p := v.phase(now)).removed
        ]
        start = _after([v.video_id for v, _ in visible], params.get("lastVideoId", ""))
        page = visible[start : start + limit]
        return Answer(200, {"videos": [self._video_body(v, p) for v, p in page]})

    def cancel(self, authorization: str | None, body: bytes, content_type: str) -> Answer:
        token, _ = self._authenticate(authorization)
        fields = parse_fields(body, content_type)
        video_id = fields.get("videoId")
        if not isinstance(video_id, str) or not video_id.strip():
            raise UseapiError(400, "videoId is required")
        video = self.store.get(video_id.strip(), token)
        if video is None or video.phase().removed:
            raise UseapiError(404, NOT_FOUND)
        if not self.store.cancel(video):
            raise UseapiError(400, "The video is not running")
        if video.reply_url:
            self.replies.schedule(time.monotonic(), video.video_id, "final")
        return Answer(200, {"videoId": video.video_id, "status": 3})

    # --- scheduler and accounts ----------------------------------------------------------------

    def scheduler(self, authorization: str | None) -> Answer:
        token, _ = self._authenticate(authorization)
        now_mono, now = time.monotonic(), time.time()
        running = [v for v in reversed(self.store.videos_of(token)) if not v.phase(now_mono).final]
        return Answer(
            200,
            [
                {
                    "videoId": v.video_id,
                    "started": _iso(v.created_at),
                    "elapsed": _mm_ss(now - v.created_at),
                    "replyUrl": v.reply_url,
                    "replyRef": v.reply_ref,
                    "account": v.account,
                }
                for v in running
            ],
        )

    def scheduler_available(self, authorization: str | None) -> Answer:
        token, directives = self._authenticate(authorization)
        max_jobs = _account_max_jobs(directives)
        now = time.monotonic()
        rows = []
        for account in self.store.accounts_of(token):
            videos = self.store.videos_of(token, account)
            executing = sum(1 for v in videos if not v.phase(now).final)
            rows.append(
                {
                    "account": account,
                    "maxJobs": max_jobs,
                    "executing": executing,
                    "available": max(max_jobs - executing, 0),
                }
            )
        return Answer(200, rows)

    def accounts(self, authorization: str | None) -> Answer:
        token, directives = self._authenticate(authorization)
        max_jobs = _account_max_jobs(directives)
        accounts = self.store.accounts_of(token)
        return Answer(200, {a: {"account": a, "maxJobs": max_jobs} for a in accounts})

    # --- templates -----------------------------------------------------------------------------

    def agent_templates(self, authorization: str | None, params: dict[str, str]) -> Answer:
        self._authenticate(authorization)
        if params.get("templateId"):
            template = TEMPLATES.get(params["templateId"])
            if template is None:
                raise UseapiError(404, NOT_FOUND)
            return Answer(200, {"template": self._template_detail(template)})
        limit = _limit(params.get("limit"))
        start = _after(list(ORDER), params.get("lastId", ""))
        page = ORDER[start : start + limit]
        return Answer(
            200,
            {
                "videoList": [self._template_card(TEMPLATES[t]) for t in page],
                "hasMore": start + len(page) < len(ORDER),
                "lastId": page[-1] if page else "",
            },
        )

    # --- sandbox files and test aids -----------------------------------------------------------

    def file(self, stem: str, ext: str, params: dict[str, str]) -> tuple[str, bytes] | None:
        """The content type and bytes behind a signed result link, or None (HTTP 403)."""
        name = f"{stem}-{ext}"
        if not self.signer.verify(name, params.get("expires", ""), params.get("sig", "")):
            return None
        if ext == "mp4":
            return "video/mp4", self.video
        return "image/png", gradient_png(zlib.crc32(stem.encode()) % len(PALETTE))

    def snapshot(self) -> list[dict[str, Any]]:
        return self.store.snapshot()

    # --- helpers -------------------------------------------------------------------------------

    def _authenticate(self, authorization: str | None) -> tuple[str, Directives]:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        match = TOKEN.fullmatch(token)
        if scheme.lower() != "bearer" or match is None:
            raise UseapiError(401, UNAUTHORIZED)
        directives = parse_directives(match.group(2))
        if directives.invalid:
            raise UseapiError(401, UNAUTHORIZED)
        return token, directives

    def _chaos_refusal(
        self, directives: Directives, endpoint: str, identity: str, menu: tuple[Fault, ...]
    ) -> Fault | None:
        """Chaos mode's verdict on this call: an HTTP refusal is raised here (nothing is made);
        any other fault (``cut``, ``late``) is returned for the caller to act out."""
        if directives.nochaos:
            return None
        fault = self.chaos.fault(endpoint, identity, menu)
        if fault is not None and fault.kind == "http":
            raise self._switched_error(fault.code)
        return fault

    def _schedule_chaos_replies(self, video: Video) -> None:
        if self.chaos.chance("useapi.reply.duplicate", video.video_id):
            again = self.chaos.offset("duplicate", video.video_id, 0.1, 1.5)
            self.replies.schedule(video.done_monotonic + again, video.video_id, "duplicate")
        if self.chaos.chance("useapi.reply.reorder", video.video_id):
            late = self.chaos.offset("reorder", video.video_id, 0.2, 1.0)
            self.replies.schedule(video.done_monotonic + late, video.video_id, "stale")

    def _switched_error(self, status: int) -> UseapiError:
        return UseapiError(status, retry_after=self.config.retry_after if status == 429 else None)

    def _link(self, stem: str, ext: str, expires: int) -> str:
        sig = self.signer.signature(f"{stem}-{ext}", expires)
        return f"{self.public_url}/_sandbox/useapi/files/{stem}.{ext}?expires={expires}&sig={sig}"

    def _video_link(self, video: Video, kind: str, ext: str) -> str:
        # Counted from completion, so the same link comes back from the stream and every poll.
        expires = int(video.wall(video.done_monotonic) + self.config.url_ttl)
        return self._link(f"{kind}-{video.video_id.rsplit(':', 1)[1]}", ext, expires)

    def _template_link(self, template: Template, kind: str, ext: str) -> str:
        return self._link(f"{kind}-{template.template_id}", ext, int(time.time() + 3600))

    def _video_body(self, video: Video, phase: Phase) -> dict[str, Any]:
        done = phase.status == COMPLETED
        body: dict[str, Any] = {
            "videoId": video.video_id,
            "status": phase.status,
            "statusLabel": phase.label,
            "statusFinal": phase.final,
            "percent": phase.percent,
            "videoURL": self._video_link(video, "wm", "mp4") if done else "",
            "downloadURL": self._video_link(video, "video", "mp4") if done else "",
            "coverURL": self._video_link(video, "cover", "png") if done else "",
            "width": SAMPLE_WIDTH,
            "height": SAMPLE_HEIGHT,
            "message": phase.message,
            "replyRef": video.reply_ref,
            "templateId": video.template_id,
            "createTime": int(video.created_at * 1000),
            "account": video.account,
        }
        if video.free:
            del body["downloadURL"]  # free accounts only get the watermarked videoURL
        return body

    def _template_card(self, template: Template) -> dict[str, Any]:
        card: dict[str, Any] = {
            "id": template.template_id,
            "cardType": 2,
            "tabID": 1,
            "videoAsset": {
                "desc": template.desc,
                "title": template.name,
                "coverURL": self._template_link(template, "tplcover", "png"),
                "videoURL": self._template_link(template, "tplclip", "mp4"),
                "downloadURL": self._template_link(template, "tplclip", "mp4"),
                "width": SAMPLE_WIDTH,
                "height": SAMPLE_HEIGHT,
                "duration": SAMPLE_SECONDS,
                "aspectRatio": "4:3",
                "agentTemplateID": template.template_id,
                "agentTemplateName": template.name,
            },
        }
        if template.credits is not None:
            card["credits"] = template.credits
        return card

    def _template_detail(self, template: Template) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "id": template.template_id,
            "name": template.name,
            "desc": template.desc,
            "coverURL": self._template_link(template, "tplcover", "png"),
            "videoURL": self._template_link(template, "tplclip", "mp4"),
        }
        if template.credits is not None:
            detail["credits"] = template.credits
        if template.inputs is not None:
            detail["inputs"] = [dict(i) for i in template.inputs]
        return detail

    def _deliver_reply(self, video_id: str, event: str) -> None:
        video = self.store.get(video_id)
        if video is None or not video.reply_url:
            return  # reset since scheduling
        phase = video.phase()
        if event != "final":
            self._deliver_chaos_reply(video, phase, event)
            return
        if not phase.final or not self.store.claim_reply(video):
            return  # once per video: a cancel may already have fired it
        entry: dict[str, Any] = {"status": phase.status, "at": time.time(), "ok": True}
        try:
            post_json(video.reply_url, self._video_body(video, phase), self.config.reply_timeout)
        except Exception as exc:
            # No retries: useapi's replyUrl fires once.
            entry.update(ok=False, error=str(exc))
            log.info("replyUrl post for video %s failed: %s", video_id, exc)
        self.store.record_reply(video, entry)

    def _deliver_chaos_reply(self, video: Video, phase: Phase, event: str) -> None:
        """Chaos mode: the final post again ("duplicate"), or a stale "processing" post
        after the final one ("stale"); both only once the video is final."""
        if not phase.final:
            return
        if event == "stale":
            phase = Phase(PROCESSING, LABELS[PROCESSING], False, 50)
        entry: dict[str, Any] = {"status": phase.status, "at": time.time(), "ok": True}
        entry["chaos"] = event
        try:
            post_json(video.reply_url, self._video_body(video, phase), self.config.reply_timeout)
        except Exception as exc:
            entry.update(ok=False, error=str(exc))
        self.store.record_reply(video, entry)
        self.chaos.note(f"useapi.reply.delivered_{event}")


def _check_inputs(template: Template, has_image: bool, prompt: str) -> None:
    if template.needs_image and not has_image:
        raise UseapiError(400, f"Template {template.name} needs an image: send fileID and ossPath")
    if template.needs_text and not prompt.strip():
        raise UseapiError(400, f"Template {template.name} needs a text: send prompt")


def _outcome(directives: Directives) -> str:
    if directives.fail:
        return OUTCOME_FAILED
    if directives.moderated:
        return OUTCOME_MODERATED
    if directives.removed:
        return OUTCOME_REMOVED
    return OUTCOME_COMPLETED


def _account(value: str) -> str:
    if not value:
        return DEFAULT_ACCOUNT
    if not _ACCOUNT.fullmatch(value):
        raise UseapiError(400, "account is not a valid account id")
    return value


def _account_max_jobs(directives: Directives) -> int:
    return BUSY_MAX_JOBS if directives.busy else DEFAULT_MAX_JOBS


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return 30
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise UseapiError(400, "limit must be an integer between 1 and 100")
    return int(value)


def _after(ids: list[str], cursor: str) -> int:
    """Where a page starts: after ``cursor``; past the end for an unknown cursor, so a client
    paging with a stale id gets an empty last page rather than the first page again."""
    if not cursor:
        return 0
    return ids.index(cursor) + 1 if cursor in ids else len(ids)


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _mm_ss(seconds: float) -> str:
    minutes, secs = divmod(max(int(seconds), 0), 60)
    return f"{minutes:02d}:{secs:02d}"
