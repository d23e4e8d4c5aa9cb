"""The agent-create event stream: which events, when, and what each one says.

The plan is fixed when the video is created (offsets from its creation instant, spread over its
generation time as in useapi-minimax-agent-create.txt); ``AgentStream.events()`` waits for each
event's instant and renders it then, so a cancel shows up in a stream still being read. The
HTTP layer only writes what it yields; the video itself never depends on the stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .catalogue import ORDER, TEMPLATES
from .state import OUTCOME_COMPLETED, Video

# Milestones as shares of the generation time; the video itself ends at 1.0.
IMAGE_STARTED, IMAGE_PROCESSING, IMAGE_DONE = 0.20, 0.25, 0.45
VIDEO_STARTED, VIDEO_PROCESSING = 0.50, 0.55
NOVIDEOID_HEARTBEATS = 2


@dataclass(frozen=True)
class StreamLinks:
    image_url: str  # the intermediate image (a PNG served by the sandbox)
    video_url: str  # the final MP4, the same link GET videos/{id} gives as videoURL


@dataclass
class AgentStream:
    stop: threading.Event  # set when the server stops: the stream ends at once
    plan: list[tuple[float, str]]  # (offset in seconds from start, event kind)
    video: Video | None = None
    links: StreamLinks | None = None
    start_monotonic: float = field(default_factory=time.monotonic)
    start_wall: float = field(default_factory=time.time)

    def events(self) -> Iterator[bytes]:
        """Yield each event as one ``data: {json}`` block, sleeping until it is due."""
        for offset, kind in self.plan:
            due = self.start_monotonic + offset
            delay = due - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return
            video = self.video
            if video is not None and video.canceled_monotonic is not None:
                # Canceled while streaming: say so once and end, as the video is final.
                yield _encode(self._finished(video, time.time(), video.phase().message))
                return
            yield _encode(self._render(kind, self.start_wall + offset))

    def _render(self, kind: str, at: float) -> dict[str, Any]:
        ts = int(at * 1000)
        if kind == "heartbeat":
            return {"status": "heartbeat", "timestamp": ts}
        video = self.video
        assert video is not None and self.links is not None  # only heartbeats lack a video
        ids = {"videoId": video.video_id, "projectID": video.project_id, "chatID": video.chat_id}
        if kind == "created":
            message = _user_message(video)
            return {"status": "created", **ids, "message": message, "code": 200, "timestamp": ts}
        if kind == "connected":
            return {"status": "connected", **ids, "code": 200, "timestamp": ts}
        if kind == "image_started":
            return _text_progress("Generating image...", ts)
        if kind == "image_processing":
            return _attachment(None, {"fileName": "processing"}, 2, ts)
        if kind == "image_done":
            file = {"fileName": "image.png", "fileUrl": self.links.image_url}
            return _attachment(None, file, 3, ts)
        if kind == "video_started":
            return _text_progress("Generating video...", ts)
        if kind == "video_processing":
            return _attachment(3, {"fileName": "processing"}, 2, ts)
        if kind == "video_done":
            file = {"fileName": "final_video.mp4", "fileUrl": self.links.video_url}
            return _attachment(3, file, 3, ts)
        if kind == "recommendations":
            others = [t for t in ORDER if t != video.template_id][:2]
            recs = [{"id": t, "name": TEMPLATES[t].name} for t in others]
            return {
                "status": "progress",
                "type": 3,
                "isFinished": True,
                "recTemplateList": recs,
                "timestamp": ts,
            }
        if kind == "finished":
            return self._finished(video, at, "")
        if kind == "finished_error":
            return self._finished(video, at, video.outcome_phase().message)
        raise ValueError(f"unknown event kind {kind!r}")

    @staticmethod
    def _finished(video: Video, at: float, error: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "status": "finished",
            "videoId": video.video_id,
            "projectID": video.project_id,
            "chatID": video.chat_id,
            "message": _user_message(video),
            "code": 200,
            "timestamp": int(at * 1000),
        }
        if error:
            # The model's errCode/errMsg: a failed run still ends with "finished".
            event.update(errCode=1, errMsg=error)
        return event


def _encode(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def _user_message(video: Video) -> dict[str, Any]:
    content = video.prompt or TEMPLATES[video.template_id].name
    return {"msgContent": content, "msgType": 1}


def _text_progress(text: str, ts: int) -> dict[str, Any]:
    message = {"msgContent": text, "msgType": 2}
    return {"status": "progress", "type": 1, "message": message, "timestamp": ts}


def _attachment(kind: int | None, file: dict[str, str], status: int, ts: int) -> dict[str, Any]:
    info: dict[str, Any] = {"attachments": [{"file": file, "status": status}]}
    if kind is not None:
        info = {"type": kind, **info}
    return {"status": "progress", "type": 2, "message": {"attachmentInfo": info}, "timestamp": ts}


def _heartbeats(heartbeat: float, until: float) -> list[tuple[float, str]]:
    if heartbeat <= 0:
        return []
    count = int(until / heartbeat)
    beats = [(k * heartbeat, "heartbeat") for k in range(1, count + 1)]
    return [b for b in beats if b[0] < until]


def video_plan(video: Video, heartbeat: float) -> list[tuple[float, str]]:
    """The full stream of a video: every milestone, heartbeats in between, then finished."""
    gen = video.generation_seconds
    events = [
        (0.0, "created"),
        (0.0, "connected"),
        (IMAGE_STARTED * gen, "image_started"),
        (IMAGE_PROCESSING * gen, "image_processing"),
        (IMAGE_DONE * gen, "image_done"),
        (VIDEO_STARTED * gen, "video_started"),
        (VIDEO_PROCESSING * gen, "video_processing"),
    ]
    if video.outcome == OUTCOME_COMPLETED:
        events += [(gen, "video_done"), (gen, "recommendations"), (gen, "finished")]
    else:
        events.append((gen, "finished_error"))
    # Stable sort: at equal offsets milestones keep their order and precede a heartbeat.
    return sorted(events + _heartbeats(heartbeat, gen), key=lambda e: e[0])


def cut_plan(heartbeat: float) -> list[tuple[float, str]]:
    """``cut``: one heartbeat, then the connection drops before any event carries the videoId."""
    return [(max(heartbeat, 0.0), "heartbeat")]


def cut_after_plan() -> list[tuple[float, str]]:
    """``cutafter``: the ``created`` event (with the videoId), then the connection drops."""
    return [(0.0, "created")]


def no_video_id_plan(heartbeat: float) -> list[tuple[float, str]]:
    """``novideoid``: a few heartbeats and a clean end; no video exists."""
    step = max(heartbeat, 0.0)
    return [(k * step, "heartbeat") for k in range(1, NOVIDEOID_HEARTBEATS + 1)]
