"""Tests of the sandbox's useapi.net MiniMax flavour (/v1/minimax/), against a real server.

The shapes checked here are the contract in /tmp/spec/useapi-contract.md, which the useapi
provider module reads too. No Django: the sandbox is a standalone standard-library process.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from sandbox import SandboxServer
from sandbox.png import gradient_png

SAMPLE = (Path(__file__).resolve().parents[1] / "sandbox" / "assets" / "sample.mp4").read_bytes()
DIVING = "392747428568649728"  # needs an image; the detail states no inputs
RUN_FOR_LIFE = "393769180141805569"  # image + text
ART_FONTS = "394875727173492739"  # text only
PET_PILOT = "500000000000000001"
NEON_PORTRAIT = "500000000000000002"
MYSTERY_REEL = "500000000000000003"
NOT_FOUND = "The video or template you are trying to use does not exist or has been deleted."
VIDEO_ID = re.compile(r"user:(\d+)-minimax:(\w+)-video:\d+")
GEN = 0.6  # the fixture's default generation time, in seconds
HEARTBEAT = 0.1


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0, generation_seconds=GEN, heartbeat_seconds=HEARTBEAT)
    server.start()
    yield server
    server.stop()


class Receiver:
    """A tiny replyUrl endpoint recording every POST it gets."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.posts.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/reply"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


def tok(*words: str, user: int = 77) -> str:
    return f"user:{user}-" + "-".join(("t3st", *words))


def call(
    srv: SandboxServer, method: str, path: str, token: str | None, **kwargs: Any
) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{srv.base_url}/v1/minimax/{path}"
    return requests.request(method, url, headers=headers, timeout=5, **kwargs)


def upload(srv: SandboxServer, token: str, **params: str) -> dict[str, str]:
    resp = call(
        srv,
        "POST",
        "files/",
        token,
        data=gradient_png(1),
        headers={"Content-Type": "image/png"},
        params=params,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def create(srv: SandboxServer, token: str, **fields: Any) -> requests.Response:
    """POST agent-create (Run for Life with a fresh upload unless told otherwise), streaming."""
    if "templateId" not in fields:
        fields = {"templateId": RUN_FOR_LIFE, "prompt": "Lion", **upload(srv, token), **fields}
    return call(srv, "POST", "videos/agent-create", token, json=fields, stream=True)


def events(resp: requests.Response) -> Iterator[tuple[float, dict[str, Any]]]:
    """(arrival time, event) as each ``data:`` line arrives; one byte per read, so nothing
    waits in a client buffer."""
    for line in resp.iter_lines(chunk_size=1):
        if line.startswith(b"data:"):
            yield time.monotonic(), json.loads(line[5:])


def all_events(resp: requests.Response) -> list[dict[str, Any]]:
    return [event for _, event in events(resp)]


def new_video(srv: SandboxServer, token: str, **fields: Any) -> str:
    """Create a video, read the stream only up to ``created`` (as the provider does), hang up."""
    resp = create(srv, token, **fields)
    assert resp.status_code == 200, resp.text
    for _, event in events(resp):
        if event.get("videoId"):
            resp.close()
            return event["videoId"]
    pytest.fail("the stream named no video")


def get_video(srv: SandboxServer, token: str, video_id: str) -> requests.Response:
    return call(srv, "GET", f"videos/{video_id}", token)


def wait_until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.02)
    pytest.fail(f"condition not met within {timeout} s")


def final(srv: SandboxServer, token: str, video_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = get_video(srv, token, video_id).json()
        return body if body.get("statusFinal") else None

    return wait_until(done)


def png_size(content: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(content))
    image.load()  # decodes every pixel: a broken IDAT fails here
    assert image.format == "PNG"
    return image.size


def error(resp: requests.Response, status: int) -> str:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"error"}
    return body["error"]


# --- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "Bearer ", "Bearer sk-abc", "Bearer user:x-abc", "Token user:1-abc"]
)
def test_it_answers_401_without_a_proper_token(
    sandbox: SandboxServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in (
        ("POST", "videos/agent-create"),
        ("POST", "files/"),
        ("GET", "videos/user:1-minimax:1-video:1"),
        ("GET", "videos/"),
        ("GET", "scheduler/"),
        ("GET", "accounts"),
        ("GET", "videos/agent-templates"),
    ):
        resp = call(sandbox, method, path, None, headers=dict(headers), json={})
        assert error(resp, 401) == "Unauthorized"


def test_it_answers_401_to_every_call_of_an_invalid_token(sandbox: SandboxServer) -> None:
    token = tok("invalid")
    assert error(create(sandbox, token, templateId=ART_FONTS, prompt="x"), 401) == "Unauthorized"
    for path in ("videos/", "scheduler/", "scheduler/available", "accounts"):
        assert error(call(sandbox, "GET", path, token), 401) == "Unauthorized"
    assert sandbox.useapi_videos() == []


# --- files ---------------------------------------------------------------------------------------


def test_it_uploads_png_and_jpeg_files(sandbox: SandboxServer) -> None:
    token = tok()
    png = upload(sandbox, token)
    assert set(png) == {"fileID", "ossPath"}
    assert re.fullmatch(r"user:77-minimax:1000001-file:\d+", png["fileID"])
    assert png["ossPath"]
    jpeg = call(
        sandbox,
        "POST",
        "files/",
        token,
        data=b"\xff\xd8\xff\xe0 jpeg bytes",
        headers={"Content-Type": "image/jpeg"},
        params={"account": "2000002"},
    )
    assert jpeg.status_code == 200
    assert re.fullmatch(r"user:77-minimax:2000002-file:\d+", jpeg.json()["fileID"])
    assert jpeg.json()["fileID"] != png["fileID"]


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("image/gif", b"GIF89a"), ("text/plain", b"hello"), (None, b"\x89PNG"), ("image/png", b"")],
)
def test_it_refuses_other_upload_types_and_empty_files(
    sandbox: SandboxServer, content_type: str | None, data: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = call(sandbox, "POST", "files/", tok(), data=data, headers=headers)
    assert error(resp, 400)


# --- agent-create validation ---------------------------------------------------------------------


def test_it_answers_404_with_the_docs_message_for_an_unknown_template(
    sandbox: SandboxServer,
) -> None:
    resp = create(sandbox, tok(), templateId="123", prompt="x")
    assert error(resp, 404) == NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"templateId": ""}, "templateId is required"),
        ({"templateId": ART_FONTS, "prompt": "x", "ossPath": "moss/a.png"}, "without fileID"),
        ({"templateId": DIVING}, "needs an image"),
        ({"templateId": PET_PILOT}, "needs an image"),
        ({"templateId": ART_FONTS}, "needs a text"),
        ({"templateId": ART_FONTS, "prompt": "   "}, "needs a text"),
        ({"templateId": ART_FONTS, "prompt": "x", "maxJobs": 0}, "maxJobs"),
        ({"templateId": ART_FONTS, "prompt": "x", "maxJobs": 11}, "maxJobs"),
        ({"templateId": ART_FONTS, "prompt": "x", "maxJobs": "many"}, "maxJobs"),
        ({"templateId": ART_FONTS, "prompt": "x", "replyRef": "r" * 1025}, "replyRef"),
        ({"templateId": ART_FONTS, "prompt": "x", "replyUrl": "h" * 1025}, "replyUrl"),
    ],
)
def test_it_refuses_invalid_agent_create_bodies(
    sandbox: SandboxServer, fields: dict[str, Any], message: str
) -> None:
    assert message in error(create(sandbox, tok(), **fields), 400)
    assert sandbox.useapi_videos() == []


def test_it_requires_oss_path_with_a_file_id_of_this_token(sandbox: SandboxServer) -> None:
    token = tok()
    mine, theirs = upload(sandbox, token), upload(sandbox, tok(user=88))
    base = {"templateId": DIVING}
    cases = [
        ({"fileID": mine["fileID"]}, "ossPath is required"),
        ({"fileID": mine["fileID"], "ossPath": "moss/other.png"}, "ossPath does not match"),
        (theirs, "not a file uploaded with this token"),
    ]
    for extra, message in cases:
        assert message in error(create(sandbox, token, **base, **extra), 400)
    assert sandbox.useapi_videos() == []
    # maxJobs at both ends of 1..10 is fine, as a form string or a number.
    for max_jobs in ("1", 10):
        resp = create(sandbox, token, **base, **mine, maxJobs=max_jobs)
        assert resp.status_code == 200
        resp.close()


def test_it_accepts_form_and_multipart_bodies(sandbox: SandboxServer) -> None:
    token = tok()
    fields = {"templateId": ART_FONTS, "prompt": "Hello", "replyRef": "job-7"}
    urlencoded = call(sandbox, "POST", "videos/agent-create", token, data=fields, stream=True)
    multipart = call(
        sandbox,
        "POST",
        "videos/agent-create",
        token,
        files={k: (None, v) for k, v in fields.items()},
        stream=True,
    )
    for resp in (urlencoded, multipart):
        assert resp.status_code == 200
        _, first = next(events(resp))
        assert first["status"] == "created" and VIDEO_ID.fullmatch(first["videoId"])
        resp.close()
    videos = sandbox.useapi_videos()
    assert [(v["templateId"], v["replyRef"]) for v in videos] == [(ART_FONTS, "job-7")] * 2


# --- the event stream ----------------------------------------------------------------------------


def _shape(event: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a milestone event: status, type, attachment kind and status."""
    if event["status"] != "progress":
        return (event["status"],)
    if event["type"] == 1:
        return ("progress", 1, event["message"]["msgContent"])
    if event["type"] == 2:
        info = event["message"]["attachmentInfo"]
        return ("progress", 2, info.get("type"), info["attachments"][0]["status"])
    return ("progress", event["type"])


def test_it_streams_the_documented_events_paced_over_the_generation(
    sandbox: SandboxServer,
) -> None:
    token = tok("gen0.8")
    started = time.monotonic()
    resp = create(sandbox, token, replyRef="job-1")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Connection"] == "close"
    assert "Content-Length" not in resp.headers
    arrivals = list(events(resp))
    stream = [event for _, event in arrivals]

    milestones = [_shape(e) for e in stream if e["status"] != "heartbeat"]
    assert milestones == [
        ("created",),
        ("connected",),
        ("progress", 1, "Generating image..."),
        ("progress", 2, None, 2),
        ("progress", 2, None, 3),
        ("progress", 1, "Generating video..."),
        ("progress", 2, 3, 2),
        ("progress", 2, 3, 3),
        ("progress", 3),
        ("finished",),
    ]
    created, connected, finished = stream[0], stream[1], stream[-1]
    video_id = created["videoId"]
    assert VIDEO_ID.fullmatch(video_id).groups() == ("77", "1000001")
    assert created["message"] == {"msgContent": "Lion", "msgType": 1}
    assert created["code"] == 200 and created["projectID"] and created["chatID"]
    assert connected["videoId"] == finished["videoId"] == video_id
    assert finished["code"] == 200 and "errCode" not in finished

    heartbeats = [e for e in stream if e["status"] == "heartbeat"]
    assert len(heartbeats) >= 5 and all(set(e) == {"status", "timestamp"} for e in heartbeats)
    stamps = [e["timestamp"] for e in stream]
    assert stamps == sorted(stamps) and all(isinstance(s, int) for s in stamps)
    # Paced by the clock: the stream lasts about the generation time, not an instant.
    assert arrivals[-1][0] - started >= 0.7 and arrivals[1][0] - started < 0.4

    attachments = [
        e["message"]["attachmentInfo"] for e in stream if _shape(e)[:2] == ("progress", 2)
    ]
    image_url = attachments[1]["attachments"][0]["file"]["fileUrl"]
    video_url = attachments[3]["attachments"][0]["file"]["fileUrl"]
    assert png_size(requests.get(image_url, timeout=5).content) == (640, 360)
    assert requests.get(video_url, timeout=5).content == SAMPLE
    recs = stream[-2]
    assert recs["isFinished"] is True and len(recs["recTemplateList"]) == 2
    assert all(set(r) == {"id", "name"} for r in recs["recTemplateList"])
    assert get_video(sandbox, token, video_id).json()["videoURL"] == video_url


def test_it_keeps_generating_when_the_client_hangs_up(
    sandbox: SandboxServer, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    token = tok("gen0.5")
    caplog.set_level(logging.INFO, logger="sandbox")
    video_id = new_video(sandbox, token)  # reads `created`, then closes the connection
    time.sleep(0.7)  # past the video's end: several events were written to a closed socket
    body = get_video(sandbox, token, video_id).json()
    assert body["status"] == 2 and body["statusFinal"] is True
    assert "Traceback" not in capfd.readouterr().err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- GET videos/{id} -----------------------------------------------------------------------------


def test_it_walks_a_video_through_0_11_12_then_2(sandbox: SandboxServer) -> None:
    token = tok("gen1.2")  # 0.12 s pending, 0.12 s queued, then processing
    video_id = new_video(sandbox, token, replyRef="job-42")
    seen: list[int] = []
    percents: list[int] = []

    def record() -> dict[str, Any] | None:
        body = get_video(sandbox, token, video_id).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] == 12:
            percents.append(body["percent"])
        if not body["statusFinal"]:
            assert body["videoURL"] == "" and body["downloadURL"] == ""
        return body if body["statusFinal"] else None

    body = wait_until(record)
    assert seen == [0, 11, 12, 2]
    assert percents == sorted(percents) and 0 < percents[0] < percents[-1] < 100
    assert body["statusLabel"] == "completed" and body["percent"] == 100
    assert body["videoId"] == video_id and body["replyRef"] == "job-42"
    assert body["templateId"] == RUN_FOR_LIFE and body["account"] == "1000001"
    assert isinstance(body["createTime"], int) and body["createTime"] > 1_600_000_000_000
    assert body["width"] and body["height"] and body["message"] == ""
    assert requests.get(body["videoURL"], timeout=5).content == SAMPLE
    assert requests.get(body["downloadURL"], timeout=5).content == SAMPLE
    assert png_size(requests.get(body["coverURL"], timeout=5).content) == (640, 360)


def test_it_gives_free_accounts_no_download_url(sandbox: SandboxServer) -> None:
    token = tok("free", "gen0")
    body = final(sandbox, token, new_video(sandbox, token))
    assert body["status"] == 2 and body["videoURL"]
    assert "downloadURL" not in body


def test_it_hides_a_video_from_other_tokens(sandbox: SandboxServer) -> None:
    video_id = new_video(sandbox, tok())
    for other in (tok(user=88), tok("other")):
        assert error(get_video(sandbox, other, video_id), 404) == NOT_FOUND
        resp = call(sandbox, "POST", "videos/cancel", other, json={"videoId": video_id})
        assert error(resp, 404) == NOT_FOUND
        assert call(sandbox, "GET", "videos/", other).json() == {"videos": []}
    assert get_video(sandbox, tok(), video_id).status_code == 200
    assert error(get_video(sandbox, tok(), "user:77-minimax:1000001-video:1"), 404)


def test_it_lists_videos_newest_first_with_paging(sandbox: SandboxServer) -> None:
    token = tok()
    ids = [new_video(sandbox, token, templateId=ART_FONTS, prompt=str(i)) for i in range(3)]
    listed = call(sandbox, "GET", "videos/", token).json()["videos"]
    assert [v["videoId"] for v in listed] == ids[::-1]
    assert listed[0]["templateId"] == ART_FONTS and "status" in listed[0]
    page = call(sandbox, "GET", "videos/", token, params={"limit": "1", "lastVideoId": ids[2]})
    assert [v["videoId"] for v in page.json()["videos"]] == [ids[1]]
    other = call(sandbox, "GET", "videos/", token, params={"account": "2000002"})
    assert other.json() == {"videos": []}


# --- token switches ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [402, 404, 412, 502, 596])
def test_it_answers_err_switches_on_every_agent_create(sandbox: SandboxServer, status: int) -> None:
    token = tok(f"err{status}")
    for _ in range(2):
        message = error(create(sandbox, token, templateId=ART_FONTS, prompt="x"), status)
    if status == 404:
        assert message == NOT_FOUND
    assert sandbox.useapi_videos() == []
    assert call(sandbox, "GET", "accounts", token).status_code == 200  # only agent-create fails


def test_it_answers_err429_with_retry_after(sandbox: SandboxServer) -> None:
    resp = create(sandbox, tok("err429"), templateId=ART_FONTS, prompt="x")
    assert error(resp, 429) and resp.headers["Retry-After"] == "2"


def test_it_fails_only_the_first_flaky_create(sandbox: SandboxServer) -> None:
    token = tok("flaky429")
    first = create(sandbox, token, templateId=ART_FONTS, prompt="x")
    assert error(first, 429) and first.headers["Retry-After"] == "2"
    assert new_video(sandbox, token, templateId=ART_FONTS, prompt="x")
    assert error(create(sandbox, tok("flaky502"), templateId=ART_FONTS, prompt="x"), 502)
    assert len(sandbox.useapi_videos()) == 1
    assert sandbox.useapi_videos()[0]["call_number"] == 2  # the failed call counted too
    sandbox.reset()
    assert error(create(sandbox, token, templateId=ART_FONTS, prompt="x"), 429)


@pytest.mark.parametrize(
    ("switch", "status", "label", "message"),
    [
        ("fail", 3, "failed", "Generation failed"),
        ("moderated", 7, "moderated", "The content did not pass moderation"),
    ],
)
def test_it_ends_fail_and_moderated_videos_with_a_message(
    sandbox: SandboxServer, switch: str, status: int, label: str, message: str
) -> None:
    token = tok(switch, "gen0.3")
    resp = create(sandbox, token)
    stream = all_events(resp)
    assert stream[-1]["status"] == "finished" and stream[-1]["errMsg"] == message
    assert ("progress", 2, 3, 3) not in [_shape(e) for e in stream]  # no final video
    body = get_video(sandbox, token, stream[0]["videoId"]).json()
    assert (body["status"], body["statusLabel"], body["message"]) == (status, label, message)
    assert body["statusFinal"] is True and body["videoURL"] == ""


def test_it_answers_404_once_a_removed_video_is_done(sandbox: SandboxServer) -> None:
    token = tok("removed", "gen0.4")
    video_id = new_video(sandbox, token)
    assert get_video(sandbox, token, video_id).json()["statusFinal"] is False
    wait_until(lambda: get_video(sandbox, token, video_id).status_code == 404)
    assert error(get_video(sandbox, token, video_id), 404) == NOT_FOUND
    assert call(sandbox, "GET", "videos/", token).json() == {"videos": []}


def test_it_cuts_the_stream_before_the_video_id_but_creates_the_video(
    sandbox: SandboxServer,
) -> None:
    token = tok("cut", "gen0.6")
    stream = all_events(create(sandbox, token, replyRef="job-cut"))
    assert [e["status"] for e in stream] == ["heartbeat"]
    assert not any("videoId" in e for e in stream)

    (running,) = call(sandbox, "GET", "scheduler/", token).json()
    assert running["replyRef"] == "job-cut"
    (listed,) = call(sandbox, "GET", "videos/", token).json()["videos"]
    assert listed["replyRef"] == "job-cut" and listed["videoId"] == running["videoId"]
    assert final(sandbox, token, running["videoId"])["status"] == 2
    assert [v["replyRef"] for v in sandbox.useapi_videos()] == ["job-cut"]


def test_it_cuts_the_stream_right_after_created(sandbox: SandboxServer) -> None:
    token = tok("cutafter")
    stream = all_events(create(sandbox, token))
    assert [e["status"] for e in stream] == ["created"]
    assert final(sandbox, token, stream[0]["videoId"])["status"] == 2


def test_it_sends_only_heartbeats_and_creates_nothing_for_novideoid(
    sandbox: SandboxServer,
) -> None:
    token = tok("novideoid")
    stream = all_events(create(sandbox, token))
    assert stream and {e["status"] for e in stream} == {"heartbeat"}
    assert sandbox.useapi_videos() == []
    assert call(sandbox, "GET", "scheduler/", token).json() == []


def test_it_answers_596_to_the_first_poll_of_each_video(sandbox: SandboxServer) -> None:
    token = tok("poll596")
    for video_id in (new_video(sandbox, token), new_video(sandbox, token)):
        assert error(get_video(sandbox, token, video_id), 596)
        assert get_video(sandbox, token, video_id).status_code == 200


def test_it_runs_one_video_at_a_time_for_busy_accounts(sandbox: SandboxServer) -> None:
    token = tok("busy", "gen0.5")
    first = new_video(sandbox, token, maxJobs=5)  # the account's own limit wins
    second = create(sandbox, token, maxJobs=5)
    assert error(second, 429) and second.headers["Retry-After"] == "3"
    assert call(sandbox, "GET", "scheduler/available", token).json() == [
        {"account": "1000001", "maxJobs": 1, "executing": 1, "available": 0}
    ]
    assert call(sandbox, "GET", "accounts", token).json() == {
        "1000001": {"account": "1000001", "maxJobs": 1}
    }
    final(sandbox, token, first)
    assert new_video(sandbox, token)  # the slot is free again
    videos = sandbox.useapi_videos()
    assert len(videos) == 2 and videos[0]["ended"] <= videos[1]["created"]


def test_it_limits_running_videos_to_max_jobs(sandbox: SandboxServer) -> None:
    token = tok("gen2")
    for _ in range(2):
        new_video(sandbox, token, templateId=ART_FONTS, prompt="x", maxJobs=2)
    third = create(sandbox, token, templateId=ART_FONTS, prompt="x", maxJobs=2)
    assert error(third, 429) and third.headers["Retry-After"] == "3"
    # Without maxJobs the default of 3 applies; another account has its own slots.
    assert new_video(sandbox, token, templateId=ART_FONTS, prompt="x")
    assert error(create(sandbox, token, templateId=ART_FONTS, prompt="x"), 429)
    assert new_video(sandbox, token, templateId=ART_FONTS, prompt="x", account="2000002")
    available = call(sandbox, "GET", "scheduler/available", token).json()
    assert available == [
        {"account": "1000001", "maxJobs": 3, "executing": 3, "available": 0},
        {"account": "2000002", "maxJobs": 3, "executing": 1, "available": 2},
    ]


# --- scheduler, accounts, cancel -----------------------------------------------------------------


def test_it_lists_running_videos_in_the_scheduler(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    token = tok("gen3")
    video_id = new_video(sandbox, token, replyRef="job-9", replyUrl=receiver.url)
    (row,) = call(sandbox, "GET", "scheduler", token).json()
    assert set(row) == {"videoId", "started", "elapsed", "replyUrl", "replyRef", "account"}
    assert row["videoId"] == video_id and row["replyRef"] == "job-9"
    assert row["replyUrl"] == receiver.url and row["account"] == "1000001"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["started"])
    assert row["elapsed"] == "00:00"
    assert call(sandbox, "GET", "accounts", token).json() == {
        "1000001": {"account": "1000001", "maxJobs": 3}
    }


def test_it_cancels_a_running_video(sandbox: SandboxServer, receiver: Receiver) -> None:
    token = tok("gen3")
    resp = create(sandbox, token, replyUrl=receiver.url, replyRef="job-c")
    stream = events(resp)
    _, created = next(stream)
    video_id = created["videoId"]

    answer = call(sandbox, "POST", "videos/cancel", token, data={"videoId": video_id})
    assert answer.status_code == 200 and answer.json() == {"videoId": video_id, "status": 3}
    # The open stream says so and ends, long before the 3 s generation time.
    rest = [event for _, event in stream]
    assert rest[-1]["status"] == "finished" and rest[-1]["errMsg"]
    body = get_video(sandbox, token, video_id).json()
    assert (body["status"], body["statusLabel"], body["statusFinal"]) == (3, "canceled", True)
    assert call(sandbox, "GET", "scheduler/", token).json() == []
    assert error(call(sandbox, "POST", "videos/cancel", token, json={"videoId": video_id}), 400)
    unknown = {"videoId": "user:77-minimax:1000001-video:1"}
    assert error(call(sandbox, "POST", "videos/cancel", token, json=unknown), 404)
    assert error(call(sandbox, "POST", "videos/cancel", token, json={}), 400)

    posts = wait_until(receiver.bodies)
    assert [(p["videoId"], p["status"], p["replyRef"]) for p in posts] == [(video_id, 3, "job-c")]
    assert sandbox.useapi_videos()[0]["canceled"] is True


# --- templates -----------------------------------------------------------------------------------


def test_it_lists_agent_templates_with_paging(sandbox: SandboxServer) -> None:
    token = tok()
    body = call(sandbox, "GET", "videos/agent-templates", token).json()
    assert body["hasMore"] is False and len(body["videoList"]) == 6
    ids = [item["videoAsset"]["agentTemplateID"] for item in body["videoList"]]
    expected = [DIVING, RUN_FOR_LIFE, ART_FONTS, PET_PILOT, NEON_PORTRAIT, MYSTERY_REEL]
    assert ids == expected and body["lastId"] == MYSTERY_REEL
    first = body["videoList"][0]
    assert {"id", "cardType", "tabID", "videoAsset"} <= set(first)
    assert set(first["videoAsset"]) == {
        "desc",
        "title",
        "coverURL",
        "videoURL",
        "downloadURL",
        "width",
        "height",
        "duration",
        "aspectRatio",
        "agentTemplateID",
        "agentTemplateName",
    }
    assert first["videoAsset"]["agentTemplateName"] == "Diving"
    credits = {i["videoAsset"]["agentTemplateID"]: i.get("credits") for i in body["videoList"]}
    assert credits[ART_FONTS] == 35 and credits[NEON_PORTRAIT] == 60 and credits[DIVING] is None
    assert png_size(requests.get(first["videoAsset"]["coverURL"], timeout=5).content)[0] >= 640
    assert requests.get(first["videoAsset"]["videoURL"], timeout=5).content == SAMPLE

    paged, last_id = [], ""
    while True:
        params = {"limit": "4", **({"lastId": last_id} if last_id else {})}
        page = call(sandbox, "GET", "videos/agent-templates/", token, params=params).json()
        paged += [item["id"] for item in page["videoList"]]
        last_id = page["lastId"]
        if not page["hasMore"]:
            break
    assert paged == expected


def test_it_details_one_template_with_its_stated_inputs(sandbox: SandboxServer) -> None:
    def detail(template_id: str) -> dict[str, Any]:
        params = {"templateId": template_id}
        resp = call(sandbox, "GET", "videos/agent-templates", tok(), params=params)
        assert resp.status_code == 200
        return resp.json()["template"]

    diving = detail(DIVING)
    assert diving["id"] == DIVING and diving["name"] == "Diving" and "inputs" not in diving
    assert {"desc", "coverURL", "videoURL"} <= set(diving)
    run = detail(RUN_FOR_LIFE)["inputs"]
    assert [i["type"] for i in run] == ["image", "text"] and run[1]["label"] == "A wild beast"
    fonts = detail(ART_FONTS)
    assert [i["type"] for i in fonts["inputs"]] == ["text"] and fonts["credits"] == 35
    assert detail(PET_PILOT)["name"] == "Pet Pilot" and "inputs" not in detail(PET_PILOT)
    neon = detail(NEON_PORTRAIT)
    assert [i["type"] for i in neon["inputs"]] == ["image"] and neon["credits"] == 60
    assert detail(MYSTERY_REEL)["name"] == "Mystery Reel"
    assert "inputs" not in detail(MYSTERY_REEL)
    resp = call(sandbox, "GET", "videos/agent-templates", tok(), params={"templateId": "9"})
    assert error(resp, 404) == NOT_FOUND


# --- replyUrl and result links -------------------------------------------------------------------


def test_it_posts_to_the_reply_url_once_when_the_video_is_final(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    token = tok("gen0.3")
    video_id = new_video(sandbox, token, replyUrl=receiver.url, replyRef="job-r")
    (headers, body), *_ = wait_until(lambda: receiver.posts)
    time.sleep(0.3)
    assert len(receiver.posts) == 1  # once, never retried or repeated
    assert body["videoId"] == video_id and body["replyRef"] == "job-r"
    assert body["status"] == 2 and body["statusFinal"] is True and body["videoURL"]
    assert headers["Content-Type"] == "application/json"
    assert not [h for h in headers if "signature" in h.lower()]  # unsigned
    assert [r["ok"] for r in sandbox.useapi_videos()[0]["replies"]] == [True]


def test_it_posts_the_reply_for_removed_videos(sandbox: SandboxServer, receiver: Receiver) -> None:
    video_id = new_video(sandbox, tok("removed", "gen0.2"), replyUrl=receiver.url)
    (body,) = wait_until(receiver.bodies)
    assert body["videoId"] == video_id and body["status"] == 7


def test_it_refuses_forged_or_expired_result_links(sandbox: SandboxServer) -> None:
    token = tok("gen0")
    body = final(sandbox, token, new_video(sandbox, token))
    url = body["videoURL"]
    good = requests.get(url, timeout=5)
    assert good.status_code == 200 and good.headers["Content-Type"] == "video/mp4"
    part = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=5)
    assert part.status_code == 206 and part.content == SAMPLE[:10]

    expires = re.search(r"expires=(\d+)", url).group(1)
    forged = url[:-1] + ("1" if url.endswith("0") else "0")
    later = url.replace(f"expires={expires}", f"expires={int(expires) + 1}")
    as_png = body["coverURL"].replace(".png?", ".mp4?")
    for bad in (forged, later, url.split("?")[0], as_png):
        resp = requests.get(bad, timeout=5)
        assert resp.status_code == 403 and "error" in resp.json()


# --- test aids and the other flavour -------------------------------------------------------------


def test_it_lists_and_resets_videos_without_exposing_tokens(sandbox: SandboxServer) -> None:
    token = "user:77-secret-abcd"
    video_id = new_video(sandbox, token, replyRef="job-x")
    listed = requests.get(sandbox.base_url + "/_sandbox/useapi/videos", timeout=5).json()
    assert listed == sandbox.useapi_videos()
    (row,) = listed
    assert row["videoId"] == video_id and row["token_last4"] == "abcd"
    assert row["templateId"] == RUN_FOR_LIFE and row["replyRef"] == "job-x"
    assert row["created"] and row["ended"] is None and row["canceled"] is False
    assert row["create_calls"] == 1
    assert "secret" not in json.dumps(listed)

    assert requests.post(sandbox.base_url + "/_sandbox/reset", timeout=5).json() == {"ok": True}
    assert sandbox.useapi_videos() == []
    assert error(get_video(sandbox, token, video_id), 404)


def test_it_still_serves_the_official_flavour(sandbox: SandboxServer) -> None:
    headers = {"Authorization": "Bearer sk-smoke"}
    body = {
        "template_id": ART_FONTS,
        "text_inputs": [{"value": "Hello"}],
    }
    url = sandbox.base_url + "/v1/video_template_generation"
    answer = requests.post(url, json=body, headers=headers, timeout=5).json()
    assert answer["base_resp"]["status_code"] == 0 and answer["task_id"]
    assert [t["task_id"] for t in sandbox.tasks()] == [answer["task_id"]]
    sandbox.reset()
    assert sandbox.tasks() == []


def test_it_answers_404_json_for_unknown_useapi_routes(sandbox: SandboxServer) -> None:
    assert error(call(sandbox, "GET", "nope", tok()), 404)
    assert error(call(sandbox, "GET", "videos/agent-create", tok()), 404)


def test_it_answers_empty_pages_after_an_unknown_cursor(sandbox: SandboxServer) -> None:
    token = tok()
    new_video(sandbox, token, templateId=ART_FONTS, prompt="x")
    stale = call(sandbox, "GET", "videos/", token, params={"lastVideoId": "gone"})
    assert stale.json() == {"videos": []}
    params = {"lastId": "gone"}
    page = call(sandbox, "GET", "videos/agent-templates", token, params=params).json()
    assert page == {"videoList": [], "hasMore": False, "lastId": ""}


def test_it_answers_410_past_the_retention_period() -> None:
    with SandboxServer(port=0, generation_seconds=0.1, useapi_retention_seconds=0.0) as srv:
        token = tok("gen0")
        video_id = new_video(srv, token, templateId=ART_FONTS, prompt="x")
        time.sleep(0.01)
        assert error(get_video(srv, token, video_id), 410)
