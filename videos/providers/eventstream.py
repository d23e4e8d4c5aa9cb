"""Server-sent events, read incrementally, and useapi's JSON events on top of them.

`EventStreamParser` follows the WHATWG EventSource parsing rules ("Interpreting an event
stream"): bytes are fed as they arrive, split anywhere (inside a line, a CRLF, a UTF-8
character); lines end in CRLF, LF or CR; `field: value` loses one leading space; `data` lines
join with "\\n"; a line starting with ":" is a comment; a blank line dispatches the event; an
event still open when the stream ends is dropped. Memory is bounded: a line or an event over
its limit raises EventTooLarge instead of growing forever (an upstream that never sends a
line end must not eat a worker).

`json_events` turns each event's data into a JSON object for useapi's agent-create stream
(upstream FACTS, "POST videos/agent-create": `data: {json}` events). Data that is not a JSON
object is reported as a SkippedEvent, never raised; unknown `status` and `type` values are
kept as they came (useapi adds new ones without notice).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Characters, not bytes: useapi's events are ASCII-heavy JSON, so this is about 1 MiB.
MAX_LINE = 1024 * 1024
MAX_EVENT = 1024 * 1024

_LINE_END = re.compile(r"\r\n|\r|\n")
_SKIPPED_DATA = 200  # how much of an unreadable event's data a SkippedEvent keeps


class EventStreamError(ValueError):
    """The stream cannot be read as server-sent events."""


class EventTooLarge(EventStreamError):
    """A line or an event is over the parser's limit."""


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str = "message"  # the `event:` field; "message" when the event names none
    id: str = ""  # the last event id seen so far (ids carry over, as in EventSource)


class EventStreamParser:
    """Feed bytes, get the events completed by them. Not thread-safe; one per stream."""

    def __init__(self, *, max_line: int = MAX_LINE, max_event: int = MAX_EVENT):
        self.max_line = max_line
        self.max_event = max_event
        self.retry: int | None = None  # the last valid `retry:` (milliseconds)
        self.last_event_id = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True  # a leading BOM is dropped, once
        self._after_cr = False  # the last chunk ended in CR: an LF starting the next is its pair
        self._partial: list[str] = []  # the unfinished line, in pieces (no quadratic joins)
        self._partial_len = 0
        self._data: list[str] = []
        self._data_len = 0
        self._event_type = ""
        self._id_buffer = ""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events that `chunk` completes (often none, sometimes several)."""
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> None:
        """End of stream: whatever is pending is dropped, an event without its blank line
        included (WHATWG: "the incomplete event is not dispatched")."""
        self._decoder.reset()
        self._partial.clear()
        self._partial_len = 0
        self._data.clear()
        self._data_len = 0
        self._event_type = ""

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        if self._after_cr:
            self._after_cr = False
            text = text.removeprefix("\n")
        events: list[ServerSentEvent] = []
        start = 0
        for match in _LINE_END.finditer(text):
            piece = text[start : match.start()]
            line = "".join([*self._partial, piece]) if self._partial else piece
            self._partial.clear()
            self._partial_len = 0
            self._check_line(len(line))
            event = self._process_line(line)
            if event is not None:
                events.append(event)
            start = match.end()
        # A CR at the very end may be the first half of a CRLF split across chunks.
        self._after_cr = text.endswith("\r")
        rest = text[start:]
        if rest:
            self._partial.append(rest)
            self._partial_len += len(rest)
            self._check_line(self._partial_len)
        return events

    def _check_line(self, length: int) -> None:
        if length > self.max_line:
            raise EventTooLarge(f"A server-sent event line is over {self.max_line} characters.")

    def _process_line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (servers send these as keep-alives)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_len += len(value) + 1
            if self._data_len > self.max_event:
                raise EventTooLarge(f"A server-sent event is over {self.max_event} characters.")
        elif name == "event":
            self._event_type = value
        elif name == "id" and "\0" not in value:
            self._id_buffer = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        # Anything else (other fields, an id with NUL, a bad retry) is ignored, per the spec.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self.last_event_id = self._id_buffer
        if not self._data:
            self._event_type = ""
            return None
        event = ServerSentEvent(
            data="\n".join(self._data),
            event=self._event_type or "message",
            id=self.last_event_id,
        )
        self._data.clear()
        self._data_len = 0
        self._event_type = ""
        return event


def iter_events(
    chunks: Iterable[bytes], *, max_line: int = MAX_LINE, max_event: int = MAX_EVENT
) -> Iterator[ServerSentEvent]:
    """Every event of a whole stream of byte chunks, as soon as it is complete."""
    parser = EventStreamParser(max_line=max_line, max_event=max_event)
    for chunk in chunks:
        yield from parser.feed(chunk)
    parser.close()


# --- useapi's JSON events ----------------------------------------------------------------

HEARTBEAT = "heartbeat"


@dataclass(frozen=True)
class JsonEvent:
    """One JSON object from the stream; every field of it optional (useapi's model says so)."""

    body: Mapping[str, Any]
    event: str = "message"
    id: str = ""

    @property
    def status(self) -> str:
        """`status` as text ("" when absent); unknown values are kept as they came."""
        value = self.body.get("status")
        if value is None:
            return ""
        return value if isinstance(value, str) else str(value)

    @property
    def type(self) -> int | str | None:
        """`type` (1 text, 2 attachment, 3 recommendations, or whatever comes next): a number
        when it reads as one, else the value as text, None when absent."""
        value = self.body.get("type")
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int):
            return value
        text = str(value).strip()
        return int(text) if text.isascii() and text.isdigit() else text

    @property
    def video_id(self) -> str:
        value = self.body.get("videoId")
        return value.strip() if isinstance(value, str) else ""

    @property
    def is_heartbeat(self) -> bool:
        """A keep-alive with nothing to act on (upstream FACTS: `heartbeat` events)."""
        if self.video_id:
            return False
        return self.status.strip().lower() == HEARTBEAT or self.event in (HEARTBEAT, "ping")


@dataclass(frozen=True)
class SkippedEvent:
    """An event whose data is not a JSON object: reported so the caller can log it."""

    data: str  # the start of it only
    reason: str
    event: str = "message"


def parse_json_event(event: ServerSentEvent) -> list[JsonEvent | SkippedEvent]:
    """The JSON object(s) in one event's data.

    Normally one. But useapi's own model shows `data:` lines back to back, and its example
    clients parse every `data:` line on its own, so when the joined data is no JSON, each of
    its lines is tried alone: a server that forgets the blank lines still reads right.
    """
    found = _parse_object(event.data, event)
    if isinstance(found, JsonEvent) or "\n" not in event.data:
        return [found]
    return [_parse_object(line, event) for line in event.data.split("\n") if line.strip()]


def json_events(events: Iterable[ServerSentEvent]) -> Iterator[JsonEvent | SkippedEvent]:
    for event in events:
        yield from parse_json_event(event)


def _parse_object(text: str, event: ServerSentEvent) -> JsonEvent | SkippedEvent:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return SkippedEvent(data=text[:_SKIPPED_DATA], reason="not JSON", event=event.event)
    if not isinstance(value, dict):
        return SkippedEvent(
            data=text[:_SKIPPED_DATA], reason="not a JSON object", event=event.event
        )
    return JsonEvent(body=value, event=event.event, id=event.id)
