"""The server-sent events parser and useapi's JSON events, on recorded streams."""

from __future__ import annotations

import json

import pytest

from videos.providers.eventstream import (
    EventStreamParser,
    EventTooLarge,
    JsonEvent,
    ServerSentEvent,
    SkippedEvent,
    iter_events,
    json_events,
)

VIDEO_ID = "user:1234-minimax:1234567-video:7654321"

# useapi-minimax-agent-create.txt's example stream, as the sandbox serves it (blank line after
# each event), with non-ASCII text so that chunk boundaries fall inside UTF-8 characters.
RECORDED_EVENTS = [
    {
        "status": "created",
        "videoId": VIDEO_ID,
        "projectID": "p-1",
        "chatID": "c-1",
        "message": {"msgContent": "Voiture futuriste — 速い 🚗", "msgType": 1},
        "code": 200,
        "timestamp": 1755800001000,
    },
    {"status": "connected", "videoId": VIDEO_ID, "code": 200, "timestamp": 1755800002000},
    {"status": "heartbeat", "timestamp": 1755800012000},
    {
        "status": "progress",
        "type": 1,
        "message": {"msgContent": "Génération de l'image…", "msgType": 2},
    },
    {
        "status": "progress",
        "type": 2,
        "message": {
            "attachmentInfo": {
                "attachments": [
                    {
                        "file": {"fileName": "car.png", "fileUrl": "https://cdn.test/car.png"},
                        "status": 3,
                    }
                ]
            }
        },
    },
    {"status": "progress", "type": 3, "isFinished": True, "recTemplateList": []},
    {"status": "finished", "videoId": VIDEO_ID, "code": 200},
]


def sse(*bodies: object, sep: str = "\n", space: str = " ") -> bytes:
    """Events as `data: {json}` blocks, with the given line end."""
    text = "".join(f"data:{space}{json.dumps(b, ensure_ascii=False)}{sep}{sep}" for b in bodies)
    return text.encode()


RECORDED = sse(*RECORDED_EVENTS)


def parse(*chunks: bytes, **limits: int) -> list[ServerSentEvent]:
    return list(iter_events(chunks, **limits))


def bodies(events: list[ServerSentEvent]) -> list[object]:
    return [json.loads(event.data) for event in events]


def test_it_parses_the_documented_agent_create_stream():
    events = parse(RECORDED)

    assert bodies(events) == RECORDED_EVENTS
    assert {event.event for event in events} == {"message"}


def test_it_gives_the_same_events_whatever_the_chunk_boundary():
    # Every byte offset: inside "data:", inside the JSON, inside a multi-byte character,
    # between the two line ends of the blank line.
    for offset in range(len(RECORDED) + 1):
        events = parse(RECORDED[:offset], RECORDED[offset:])
        assert bodies(events) == RECORDED_EVENTS, offset


def test_it_reads_a_stream_fed_one_byte_at_a_time():
    parser = EventStreamParser()
    dispatched_at = []
    for index in range(len(RECORDED)):
        if parser.feed(RECORDED[index : index + 1]):
            dispatched_at.append(index)

    # Each event is out the moment its blank line is complete, not a byte later.
    ends = [i for i in range(1, len(RECORDED)) if RECORDED[i - 1 : i + 1] == b"\n\n"]
    assert dispatched_at == ends


def test_it_decodes_a_character_split_over_three_chunks():
    data = "data: 🚗\n\n".encode()
    start = data.index("🚗".encode())

    events = parse(data[: start + 1], data[start + 1 : start + 3], data[start + 3 :])

    assert [event.data for event in events] == ["🚗"]


def test_it_accepts_data_with_or_without_the_space():
    assert parse(b"data:{}\n\n")[0].data == "{}"
    assert parse(b"data: {}\n\n")[0].data == "{}"
    # Only one space is the separator; more belong to the value.
    assert parse(b"data:  x\n\n")[0].data == " x"


@pytest.mark.parametrize("line_end", ["\r\n", "\n", "\r"])
def test_it_accepts_every_line_end(line_end):
    events = parse(sse(*RECORDED_EVENTS, sep=line_end))

    assert bodies(events) == RECORDED_EVENTS


def test_it_takes_a_crlf_split_between_chunks_as_one_line_end():
    events = parse(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")

    assert [event.data for event in events] == ["a\nb"]


def test_it_joins_multi_line_data_with_newlines():
    events = parse(b'data: {\ndata:  "a": 1\ndata: }\n\n')

    assert events[0].data == '{\n "a": 1\n}'
    assert json.loads(events[0].data) == {"a": 1}


def test_it_ignores_comment_lines():
    events = parse(b": keep-alive\n\n:\ndata: x\n: in between\ndata: y\n\n")

    assert [event.data for event in events] == ["x\ny"]


def test_it_reads_event_id_and_retry_fields():
    parser = EventStreamParser()
    events = parser.feed(b"event: update\nid: 7\nretry: 3000\ndata: a\n\ndata: b\n\n")

    assert [(e.event, e.id, e.data) for e in events] == [
        ("update", "7", "a"),
        ("message", "7", "b"),
    ]
    assert parser.retry == 3000
    assert parser.last_event_id == "7"


def test_it_ignores_an_id_with_nul_and_a_retry_that_is_no_number():
    parser = EventStreamParser()
    events = parser.feed(b"id: 1\ndata: a\n\nid: 2\x00\nretry: soon\ndata: b\n\n")

    assert [e.id for e in events] == ["1", "1"]
    assert parser.retry is None


def test_it_takes_a_field_without_colon_as_an_empty_value():
    assert parse(b"data\ndata\n\n")[0].data == "\n"


def test_it_dispatches_nothing_for_a_block_without_data():
    assert parse(b"event: ping\n\nid: 3\n\n\n\n") == []


def test_it_drops_an_event_the_stream_ends_in():
    # WHATWG: an event without its blank line is not dispatched.
    assert parse(b'data: {"a": 1}\n\ndata: {"b": 2}\n') == [ServerSentEvent(data='{"a": 1}')]


def test_it_drops_a_leading_byte_order_mark_once():
    events = parse(b"\xef\xbb", b"\xbfdata: a\n\n")

    assert [event.data for event in events] == ["a"]


def test_it_refuses_a_line_over_the_limit_before_it_ends():
    parser = EventStreamParser(max_line=100)
    parser.feed(b"data: " + b"x" * 90)

    with pytest.raises(EventTooLarge, match="line"):
        parser.feed(b"x" * 20)


def test_it_refuses_an_event_over_the_limit():
    parser = EventStreamParser(max_line=100, max_event=250)

    with pytest.raises(EventTooLarge, match="event"):
        for _ in range(10):
            parser.feed(b"data: " + b"x" * 50 + b"\n")


def test_it_refuses_an_endless_line_of_the_default_size():
    parser = EventStreamParser()
    chunk = b"x" * 65536

    with pytest.raises(EventTooLarge):
        for _ in range(17):  # 17 x 64 KiB > 1 MiB
            parser.feed(chunk)


# --- useapi's JSON events ----------------------------------------------------------------


def items(stream: bytes) -> list[JsonEvent | SkippedEvent]:
    return list(json_events(iter_events([stream])))


def objects(stream: bytes) -> list[JsonEvent]:
    found = items(stream)
    assert all(isinstance(item, JsonEvent) for item in found), found
    return [item for item in found if isinstance(item, JsonEvent)]


def test_it_reads_statuses_types_and_video_ids():
    found = objects(RECORDED)

    assert [item.status for item in found] == [b["status"] for b in RECORDED_EVENTS]
    assert [item.type for item in found] == [None, None, None, 1, 2, 3, None]
    assert [item.video_id for item in found] == [VIDEO_ID, VIDEO_ID, "", "", "", "", VIDEO_ID]


def test_it_keeps_an_unknown_status_and_an_unknown_type():
    found = objects(sse({"status": "thinking", "type": 9}, {"status": 4, "type": "canvas"}))

    assert [(item.status, item.type) for item in found] == [("thinking", 9), ("4", "canvas")]
    assert found[0].body == {"status": "thinking", "type": 9}


def test_it_recognises_heartbeats():
    found = objects(sse({"status": "heartbeat", "timestamp": 1}, {"status": "HEARTBEAT"}))

    assert all(item.is_heartbeat for item in found)
    assert not objects(sse(RECORDED_EVENTS[0]))[0].is_heartbeat


def test_it_reads_a_stream_of_heartbeats_only_without_a_video():
    found = items(sse(*[{"status": "heartbeat", "timestamp": t} for t in range(5)]) + b": ping\n\n")

    assert len(found) == 5
    assert all(isinstance(item, JsonEvent) and item.is_heartbeat for item in found)
    assert not any(item.video_id for item in found if isinstance(item, JsonEvent))


def test_it_reports_non_json_and_non_object_data_without_raising():
    found = items(b'data: not json\n\ndata: [1, 2]\n\ndata: 42\n\ndata: {"ok": 1}\n\n')

    assert [type(item) for item in found] == [SkippedEvent, SkippedEvent, SkippedEvent, JsonEvent]
    assert [item.reason for item in found if isinstance(item, SkippedEvent)] == [
        "not JSON",
        "not a JSON object",
        "not a JSON object",
    ]


def test_it_survives_absurdly_nested_json():
    found = items(b"data: " + b"[" * 100_000 + b"\n\n")

    assert isinstance(found[0], SkippedEvent)


def test_it_reads_data_lines_without_blank_lines_between_them_one_by_one():
    # useapi's model shows `data:` lines back to back; its example clients read each alone.
    stream = sse(RECORDED_EVENTS[2]).rstrip(b"\n") + b"\n" + sse(RECORDED_EVENTS[0])

    found = objects(stream)

    assert [item.status for item in found] == ["heartbeat", "created"]


def test_it_sees_the_video_of_a_stream_cut_right_after_created():
    cut = sse(RECORDED_EVENTS[0]) + b'data: {"status": "conn'

    found = objects(cut)

    assert [item.video_id for item in found] == [VIDEO_ID]


def test_it_sees_no_video_in_a_stream_that_never_names_one():
    stream = sse(
        {"status": "heartbeat"},
        {"status": "progress", "type": 1, "message": {"msgContent": "Thinking"}},
        {"status": "progress", "type": 3, "isFinished": True},
    )

    assert not any(item.video_id for item in items(stream) if isinstance(item, JsonEvent))
