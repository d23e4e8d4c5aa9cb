"""useapi videos and uploaded files behind one lock. A video's status is derived from the clock.

Like the official flavour's tasks, nothing "runs": a video is its creation time, its generation
time and its planned outcome, so a client that drops the event stream (or never polls) changes
nothing, and the status at any instant is a pure function of ``time.monotonic()``.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ACCOUNT = "1000001"
DEFAULT_MAX_JOBS = 3

# useapi's numeric statuses (FACTS.md) and the labels the sandbox gives them.
PENDING, COMPLETED, FAILED, MODERATED, QUEUED, PROCESSING = 0, 2, 3, 7, 11, 12
LABELS = {
    PENDING: "pending",
    QUEUED: "queued",
    PROCESSING: "processing",
    COMPLETED: "completed",
    FAILED: "failed",
    MODERATED: "moderated",
}
# Shares of the generation time: pending for the first 10 %, queued for the next 10 %.
PENDING_SHARE, QUEUED_END = 0.1, 0.2

# Planned outcomes, fixed at create time by the token's switches.
OUTCOME_COMPLETED, OUTCOME_FAILED, OUTCOME_MODERATED, OUTCOME_REMOVED = (
    "completed",
    "failed",
    "moderated",
    "removed",
)
FAILED_MESSAGE = "Generation failed"
MODERATED_MESSAGE = "The content did not pass moderation"
CANCELED_MESSAGE = "Video generation was canceled"


@dataclass(frozen=True)
class Phase:
    status: int
    label: str
    final: bool
    percent: int
    message: str = ""
    removed: bool = False  # the "removed" switch: the video answers 404 once done


@dataclass
class UploadedFile:
    file_id: str
    token: str
    account: str
    oss_path: str
    content_type: str
    size: int


@dataclass
class Video:
    video_id: str
    token: str
    account: str
    template_id: str
    prompt: str
    file_id: str
    reply_url: str
    reply_ref: str
    generation_seconds: float
    outcome: str
    free: bool
    poll596: bool
    call_number: int  # the token's n-th agent-create call made this video
    project_id: str = field(default_factory=lambda: _digits(18))
    chat_id: str = field(default_factory=lambda: _digits(18))
    created_at: float = field(default_factory=time.time)
    created_monotonic: float = field(default_factory=time.monotonic)
    canceled_monotonic: float | None = None
    polls: int = 0
    replied: bool = False
    replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done_monotonic(self) -> float:
        return self.created_monotonic + self.generation_seconds

    @property
    def ended_monotonic(self) -> float:
        """When the video became (or will become) final: its cancel time or its done time."""
        if self.canceled_monotonic is not None:
            return min(self.canceled_monotonic, self.done_monotonic)
        return self.done_monotonic

    def wall(self, monotonic: float) -> float:
        """A monotonic instant of this video's life as wall-clock epoch seconds."""
        return self.created_at + (monotonic - self.created_monotonic)

    def _percent(self, now: float) -> int:
        gen = self.generation_seconds
        share = (now - self.created_monotonic - QUEUED_END * gen) / ((1 - QUEUED_END) * gen)
        return min(max(int(share * 100), 1), 99)

    def outcome_phase(self) -> Phase:
        """The phase the video ends in unless canceled first."""
        return _final_phase(self.outcome)

    def phase(self, now: float | None = None) -> Phase:
        now = time.monotonic() if now is None else now
        if self.canceled_monotonic is not None and now >= self.canceled_monotonic:
            percent = self._percent(self.canceled_monotonic) if self.generation_seconds else 0
            return Phase(FAILED, "canceled", True, percent, CANCELED_MESSAGE)
        elapsed = now - self.created_monotonic
        gen = self.generation_seconds
        if elapsed >= gen:
            return self.outcome_phase()
        if elapsed < PENDING_SHARE * gen:
            return Phase(PENDING, LABELS[PENDING], False, 0)
        if elapsed < QUEUED_END * gen:
            return Phase(QUEUED, LABELS[QUEUED], False, 0)
        return Phase(PROCESSING, LABELS[PROCESSING], False, self._percent(now))


def _final_phase(outcome: str) -> Phase:
    if outcome == OUTCOME_FAILED:
        return Phase(FAILED, LABELS[FAILED], True, 0, FAILED_MESSAGE)
    if outcome == OUTCOME_MODERATED:
        return Phase(MODERATED, LABELS[MODERATED], True, 0, MODERATED_MESSAGE)
    if outcome == OUTCOME_REMOVED:
        return Phase(MODERATED, LABELS[MODERATED], True, 0, MODERATED_MESSAGE, removed=True)
    return Phase(COMPLETED, LABELS[COMPLETED], True, 100)


def _digits(n: int) -> str:
    return str(10 ** (n - 1) + secrets.randbelow(9 * 10 ** (n - 1)))


def user_number(token: str) -> str:
    """The ``<number>`` of ``user:<number>-<string>`` (tokens are validated before this)."""
    return token.removeprefix("user:").split("-", 1)[0]


class UseapiStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._videos: dict[str, Video] = {}
        self._files: dict[str, UploadedFile] = {}
        self._flaked: set[str] = set()
        self._calls: dict[str, int] = {}

    # --- files ---------------------------------------------------------------------------------

    def add_file(self, token: str, account: str, content_type: str, size: int) -> UploadedFile:
        ext = "png" if content_type == "image/png" else "jpg"
        with self._lock:
            file_id = f"user:{user_number(token)}-minimax:{account}-file:{_digits(18)}"
            while file_id in self._files:
                file_id = f"user:{user_number(token)}-minimax:{account}-file:{_digits(18)}"
            oss_path = f"moss/prod/sandbox/{account}/{file_id.rsplit(':', 1)[1]}.{ext}"
            upload = UploadedFile(file_id, token, account, oss_path, content_type, size)
            self._files[file_id] = upload
            return upload

    def get_file(self, file_id: str, token: str) -> UploadedFile | None:
        with self._lock:
            upload = self._files.get(file_id)
        return upload if upload is not None and upload.token == token else None

    # --- agent-create bookkeeping ----------------------------------------------------------------

    def count_call(self, token: str) -> int:
        """Count one agent-create call of ``token`` (whatever its answer); return its number."""
        with self._lock:
            self._calls[token] = self._calls.get(token, 0) + 1
            return self._calls[token]

    def consume_flaky(self, token: str) -> bool:
        """True only the first time a ``flaky`` token calls agent-create (until reset)."""
        with self._lock:
            if token in self._flaked:
                return False
            self._flaked.add(token)
            return True

    def add_video_if_room(self, limit: int, **fields: Any) -> Video | None:
        """Create the video unless its account already runs ``limit`` videos (then None).

        Counting and adding under one lock, so concurrent creates cannot both take the last slot.
        """
        token, account = fields["token"], fields["account"]
        now = time.monotonic()
        with self._lock:
            running = sum(
                1
                for v in self._videos.values()
                if v.token == token and v.account == account and not v.phase(now).final
            )
            if running >= limit:
                return None
            number = user_number(token)
            video_id = f"user:{number}-minimax:{account}-video:{_digits(18)}"
            while video_id in self._videos:
                video_id = f"user:{number}-minimax:{account}-video:{_digits(18)}"
            video = Video(video_id=video_id, **fields)
            self._videos[video_id] = video
            return video

    # --- videos --------------------------------------------------------------------------------

    def get(self, video_id: str, token: str | None = None) -> Video | None:
        """The video, or None when unknown or (given ``token``) made by another token."""
        with self._lock:
            video = self._videos.get(video_id)
        if video is None or (token is not None and video.token != token):
            return None
        return video

    def videos_of(self, token: str, account: str = "") -> list[Video]:
        """The token's videos, newest first, optionally of one account."""
        with self._lock:
            found = [
                v
                for v in self._videos.values()
                if v.token == token and (not account or v.account == account)
            ]
        return sorted(found, key=lambda v: v.created_monotonic, reverse=True)

    def accounts_of(self, token: str) -> list[str]:
        """The default account plus every account the token has used."""
        with self._lock:
            used = {v.account for v in self._videos.values() if v.token == token}
            used |= {f.account for f in self._files.values() if f.token == token}
        return [DEFAULT_ACCOUNT, *sorted(used - {DEFAULT_ACCOUNT})]

    def note_poll(self, video: Video) -> int:
        """Count one ``GET videos/{id}``; return how many came before it."""
        with self._lock:
            video.polls += 1
            return video.polls - 1

    def cancel(self, video: Video) -> bool:
        """Make a running video final now; False when it is final already."""
        now = time.monotonic()
        with self._lock:
            if video.phase(now).final:
                return False
            video.canceled_monotonic = now
            return True

    def claim_reply(self, video: Video) -> bool:
        """True exactly once per video: replyUrl fires once, whatever triggers it."""
        with self._lock:
            if video.replied:
                return False
            video.replied = True
            return True

    def record_reply(self, video: Video, entry: dict[str, Any]) -> None:
        with self._lock:
            video.replies.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every video, oldest first, for the test aid ``GET /_sandbox/useapi/videos``."""
        now = time.monotonic()
        with self._lock:
            videos = sorted(self._videos.values(), key=lambda v: v.created_monotonic)
            return [_snapshot_row(v, now) for v in videos]

    def reset(self) -> None:
        with self._lock:
            self._videos.clear()
            self._files.clear()
            self._flaked.clear()
            self._calls.clear()


def _started(video: Video, now: float) -> float | None:
    """When processing (status 12) began, as epoch seconds; None if it has not (or never will)."""
    start = video.created_monotonic + QUEUED_END * video.generation_seconds
    if now < start or (video.canceled_monotonic is not None and video.canceled_monotonic < start):
        return None
    return video.wall(start)


def _snapshot_row(video: Video, now: float) -> dict[str, Any]:
    phase = video.phase(now)
    return {
        "videoId": video.video_id,
        # Never expose whole tokens, even on a debug endpoint.
        "token_last4": video.token[-4:],
        "account": video.account,
        "templateId": video.template_id,
        "replyRef": video.reply_ref,
        "replyUrl": video.reply_url,
        "status": phase.status,
        "statusLabel": phase.label,
        "final": phase.final,
        "removed": phase.removed,
        "outcome": video.outcome,
        "created": video.created_at,
        "started": _started(video, now),
        "ended": video.wall(video.ended_monotonic) if phase.final else None,
        "canceled": video.canceled_monotonic is not None,
        "generation_seconds": video.generation_seconds,
        "create_calls": 1,  # the sandbox, like useapi, has no idempotency: one call, one video
        "call_number": video.call_number,
        "polls": video.polls,
        "replies": [dict(r) for r in video.replies],
    }
