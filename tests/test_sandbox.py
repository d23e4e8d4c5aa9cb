"""Tests of the sandbox upstream (sandbox/), run against a real in-process HTTP server."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import SandboxServer

SAMPLE = (Path(__file__).resolve().parents[1] / "sandbox" / "assets" / "sample.mp4").read_bytes()
RUN_FOR_LIFE = "393769180141805569"  # 1 media + 1 text
DIVING = "392747428568649728"  # 1 media
ART_FONTS = "394875727173492739"  # 1 text
IMAGE_URL = "https://cdn.example.com/cat.jpeg"
PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"
RETRIEVE = "/v1/files/retrieve"


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(host="127.0.0.1", port=0, generation_seconds=0.6)
    server.start()
    yield server
    server.stop()


class Receiver:
    """A tiny callback endpoint; ``mode`` is "echo" (correct) or "wrong" (bad challenge echo)."""

    def __init__(self) -> None:
        self.mode = "echo"
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                if "challenge" in body:
                    echo = body["challenge"] if receiver.mode == "echo" else "nope"
                    reply = json.dumps({"challenge": echo}).encode()
                else:
                    reply = b'{"status": "success"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def pushes(self) -> list[dict[str, Any]]:
        return [b for b in self.bodies if "challenge" not in b]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


def wait_until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.02)
    pytest.fail(f"condition not met within {timeout} s")


def call(
    srv: SandboxServer,
    method: str,
    path: str,
    key: str | None,
    **kwargs: Any,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    resp = requests.request(method, srv.base_url + path, headers=headers, timeout=5, **kwargs)
    # Like the real API: always HTTP 200 with JSON and a Trace-Id, whatever base_resp says.
    assert resp.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["Trace-Id"])
    return resp.json()


def create(srv: SandboxServer, key: str | None, **overrides: Any) -> dict[str, Any]:
    body = {
        "template_id": RUN_FOR_LIFE,
        "media_inputs": [{"value": IMAGE_URL}],
        "text_inputs": [{"value": "Lion"}],
        **overrides,
    }
    return call(srv, "POST", CREATE, key, json=body)


def query(srv: SandboxServer, key: str | None, task_id: str) -> dict[str, Any]:
    return call(srv, "GET", QUERY, key, params={"task_id": task_id})


def code(answer: dict[str, Any]) -> int:
    return answer["base_resp"]["status_code"]


def created_task_id(srv: SandboxServer, key: str, **overrides: Any) -> str:
    answer = create(srv, key, **overrides)
    assert code(answer) == 0, answer
    return answer["task_id"]


def finished(srv: SandboxServer, key: str, task_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        answer = query(srv, key, task_id)
        return answer if answer["status"].lower() in ("success", "fail", "failed") else None

    return wait_until(done)


# --- the happy path ------------------------------------------------------------------------------


def test_it_walks_a_task_through_preparing_processing_success(sandbox: SandboxServer) -> None:
    key = "sk-test-walk-gen1.2"  # 0.3 s Preparing, then 0.9 s Processing
    answer = create(sandbox, key)
    assert answer["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert re.fullmatch(r"[1-9]\d{17}", answer["task_id"])

    seen: list[str] = []

    def record() -> dict[str, Any] | None:
        reply = query(sandbox, key, answer["task_id"])
        if not seen or seen[-1] != reply["status"]:
            seen.append(reply["status"])
        if reply["status"] != "Success":
            assert reply["video_url"] == ""
        return reply if reply["status"] == "Success" else None

    final = wait_until(record)
    assert seen == ["Preparing", "Processing", "Success"]
    assert final["task_id"] == answer["task_id"] and code(final) == 0
    video = requests.get(final["video_url"], timeout=5)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert video.content == SAMPLE


def test_it_serves_byte_ranges_of_the_video(sandbox: SandboxServer) -> None:
    url = sandbox.signed_file_url("video-1", int(time.time()) + 60)
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=5)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(SAMPLE)}"
    assert part.content == SAMPLE[10:20]
    tail = requests.get(url, headers={"Range": "bytes=-5"}, timeout=5)
    assert tail.content == SAMPLE[-5:]


def test_it_accepts_data_urls_and_text_only_templates(sandbox: SandboxServer) -> None:
    assert code(create(sandbox, "sk-a", media_inputs=[{"value": PNG_DATA_URL}])) == 0
    answer = create(sandbox, "sk-a", template_id=ART_FONTS, media_inputs=[])
    assert code(answer) == 0


def test_it_lists_and_resets_tasks_without_exposing_keys(sandbox: SandboxServer) -> None:
    task_id = created_task_id(sandbox, "sk-secret-1234")
    listed = requests.get(sandbox.base_url + "/_sandbox/tasks", timeout=5).json()
    assert [t["task_id"] for t in listed] == [task_id]
    assert listed[0]["key_last4"] == "1234"
    assert "sk-secret" not in json.dumps(listed)
    assert sandbox.tasks()[0]["template_id"] == RUN_FOR_LIFE

    assert requests.post(sandbox.base_url + "/_sandbox/reset", timeout=5).json() == {"ok": True}
    assert sandbox.tasks() == []
    assert query(sandbox, "sk-secret-1234", task_id)["base_resp"]["status_msg"] == "task not found"


# --- auth and ownership --------------------------------------------------------------------------


def test_it_hides_a_task_from_other_keys(sandbox: SandboxServer) -> None:
    task_id = created_task_id(sandbox, "sk-owner")
    for answer in (query(sandbox, "sk-intruder", task_id), query(sandbox, "sk-owner", "123")):
        assert answer["base_resp"] == {"status_code": 2013, "status_msg": "task not found"}
        assert answer["video_url"] == ""
    assert code(query(sandbox, "sk-owner", task_id)) == 0


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer abc", "Token sk-abc"])
def test_it_answers_1004_without_a_proper_key(
    sandbox: SandboxServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path, params in (
        ("POST", CREATE, {}),
        ("GET", QUERY, {"task_id": "1"}),
        ("GET", RETRIEVE, {"file_id": "1"}),
    ):
        url = sandbox.base_url + path
        resp = requests.request(method, url, headers=headers, params=params, json={}, timeout=5)
        assert resp.status_code == 200
        assert resp.json()["base_resp"] == {
            "status_code": 1004,
            "status_msg": "authentication failed",
        }


def test_it_answers_2049_for_invalid_keys(sandbox: SandboxServer) -> None:
    expected = {"status_code": 2049, "status_msg": "invalid api key"}
    assert create(sandbox, "sk-x-invalid")["base_resp"] == expected
    assert query(sandbox, "sk-x-invalid", "1")["base_resp"] == expected


# --- error directives ----------------------------------------------------------------------------


def test_it_answers_err_codes_on_every_create(sandbox: SandboxServer) -> None:
    for _ in range(2):
        answer = create(sandbox, "sk-demo-err1008")
        assert answer["base_resp"] == {"status_code": 1008, "status_msg": "insufficient balance"}
        assert answer["task_id"] == ""
    assert code(create(sandbox, "sk-demo-err1026")) == 1026
    assert sandbox.tasks() == []


def test_it_fails_only_the_first_flaky_create(sandbox: SandboxServer) -> None:
    assert code(create(sandbox, "sk-demo-flaky1002")) == 1002
    assert code(create(sandbox, "sk-demo-flaky1002")) == 0
    assert code(create(sandbox, "sk-other-flaky1033")) == 1033  # per key
    sandbox.reset()
    assert code(create(sandbox, "sk-demo-flaky1002")) == 1002


def test_it_ends_fail_tasks_in_fail_without_a_video(sandbox: SandboxServer) -> None:
    task_id = created_task_id(sandbox, "sk-demo-fail-gen0")
    answer = query(sandbox, "sk-demo-fail-gen0", task_id)
    assert answer["status"] == "Fail" and answer["video_url"] == "" and code(answer) == 0


def test_it_spells_statuses_lowercase_for_lower_keys(sandbox: SandboxServer) -> None:
    for key, status in (
        ("sk-l-lower-gen100", "preparing"),
        ("sk-l-lower-gen0", "success"),
        ("sk-l-lower-fail-gen0", "failed"),
    ):
        assert query(sandbox, key, created_task_id(sandbox, key))["status"] == status


def test_it_delays_slowquery_answers_past_a_short_client_timeout(sandbox: SandboxServer) -> None:
    key = "sk-demo-slowquery-gen0"
    task_id = created_task_id(sandbox, key)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            sandbox.base_url + QUERY,
            params={"task_id": task_id},
            headers={"Authorization": f"Bearer {key}"},
            timeout=0.5,
        )


# --- files ---------------------------------------------------------------------------------------


def test_it_delivers_fileid_videos_through_files_retrieve(sandbox: SandboxServer) -> None:
    key = "sk-demo-fileid"
    task_id = created_task_id(sandbox, key)
    assert query(sandbox, key, task_id)["file_id"] == ""  # not before success
    answer = finished(sandbox, key, task_id)
    assert answer["status"] == "Success" and answer["video_url"] == ""
    file_id = answer["file_id"]
    assert re.fullmatch(r"\d+", file_id)

    retrieved = call(sandbox, "GET", RETRIEVE, key, params={"file_id": file_id})
    assert code(retrieved) == 0
    file = retrieved["file"]
    assert file["file_id"] == file_id and file["bytes"] == len(SAMPLE)
    assert file["filename"] == "output.mp4" and file["purpose"] == "video_generation"
    assert isinstance(file["created_at"], int)
    expires = int(re.search(r"expires=(\d+)", file["download_url"]).group(1))
    assert 3500 < expires - time.time() <= 3600
    assert requests.get(file["download_url"], timeout=5).content == SAMPLE

    for other_key, other_id in (("sk-intruder", file_id), (key, "999")):
        denied = call(sandbox, "GET", RETRIEVE, other_key, params={"file_id": other_id})
        assert code(denied) == 2013 and denied["file"] is None


def test_it_refuses_expired_or_forged_video_links(sandbox: SandboxServer) -> None:
    key = "sk-demo-gen0"
    url = query(sandbox, key, created_task_id(sandbox, key))["video_url"]
    expires = int(re.search(r"expires=(\d+)", url).group(1))
    assert 9 * 3600 - 60 < expires - time.time() <= 9 * 3600
    assert requests.get(url, timeout=5).status_code == 200

    expired = sandbox.signed_file_url("video-1", int(time.time()) - 1)
    forged = url[:-1] + ("1" if url.endswith("0") else "0")  # last hex digit of sig changed
    longer = url.replace(f"expires={expires}", f"expires={expires + 1}")
    for bad in (expired, forged, longer, url.split("?")[0]):
        assert requests.get(bad, timeout=5).status_code == 403


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"template_id": "1"}, "unknown template_id"),
        ({"template_id": None}, "template_id is required"),
        ({"text_inputs": []}, "expects 1 text_inputs, got 0"),
        ({"media_inputs": [{"value": IMAGE_URL}] * 2}, "expects 1 media_inputs, got 2"),
        ({"template_id": DIVING}, "expects 0 text_inputs, got 1"),
        ({"text_inputs": [{"value": "  "}]}, "text_inputs[0].value is empty"),
        ({"media_inputs": [{"value": "ftp://x/y.png"}]}, "must be an http(s) URL"),
        ({"media_inputs": [{"value": "data:image/gif;base64,R0lG"}]}, "must be an http(s) URL"),
        ({"media_inputs": [{"value": "data:image/png;base64,@@@"}]}, "not valid base64"),
        ({"media_inputs": "x"}, "media_inputs must be an array"),
    ],
)
def test_it_rejects_invalid_create_bodies(
    sandbox: SandboxServer, overrides: dict[str, Any], message: str
) -> None:
    answer = create(sandbox, "sk-a", **overrides)
    assert code(answer) == 2013
    assert message in answer["base_resp"]["status_msg"]
    assert answer["task_id"] == ""


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
def test_it_rejects_bodies_that_are_not_json_objects(sandbox: SandboxServer, raw: bytes) -> None:
    answer = call(sandbox, "POST", CREATE, "sk-a", data=raw)
    assert code(answer) == 2013 and "request body" in answer["base_resp"]["status_msg"]


def test_it_answers_404_for_unknown_routes(sandbox: SandboxServer) -> None:
    resp = requests.get(sandbox.base_url + "/v1/nope", timeout=5)
    assert resp.status_code == 404 and "Trace-Id" in resp.headers


def test_it_sends_a_fresh_trace_id_with_every_answer(sandbox: SandboxServer) -> None:
    ids = {requests.get(sandbox.base_url + QUERY, timeout=5).headers["Trace-Id"] for _ in range(3)}
    assert len(ids) == 3


# --- callbacks -----------------------------------------------------------------------------------


def test_it_verifies_the_callback_then_pushes_each_status_change(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    key = "sk-demo-gen0.4"
    task_id = created_task_id(sandbox, key, callback_url=receiver.url)
    assert len(receiver.bodies) == 1 and set(receiver.bodies[0]) == {"challenge"}

    pushes = wait_until(lambda: len(receiver.pushes()) == 2 and receiver.pushes())
    assert [p["status"] for p in pushes] == ["processing", "Success"]  # the docs' own mix
    assert all(p["task_id"] == task_id and code(p) == 0 for p in pushes)
    assert pushes[0]["video_url"] == ""
    assert pushes[1]["video_url"] == query(sandbox, key, task_id)["video_url"]
    assert requests.get(pushes[1]["video_url"], timeout=5).content == SAMPLE
    sent = sandbox.tasks()[0]["pushes"]
    assert [(p["status"], p["ok"]) for p in sent] == [("processing", True), ("Success", True)]


def test_it_pushes_failed_and_file_id_finals(sandbox: SandboxServer, receiver: Receiver) -> None:
    created_task_id(sandbox, "sk-demo-fail-gen0", callback_url=receiver.url)
    file_task = created_task_id(sandbox, "sk-demo-fileid-gen0", callback_url=receiver.url)
    pushes = wait_until(lambda: len(receiver.pushes()) == 4 and receiver.pushes())
    finals = [p for p in pushes if p["status"] != "processing"]
    assert sorted(p["status"] for p in finals) == ["Success", "failed"]
    success = next(p for p in finals if p["status"] == "Success")
    assert success["task_id"] == file_task and re.fullmatch(r"\d+", success["file_id"])


def test_it_refuses_callbacks_that_do_not_echo_the_challenge(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    receiver.mode = "wrong"
    answer = create(sandbox, "sk-a", callback_url=receiver.url)
    expected = {"status_code": 2013, "status_msg": "callback_url verification failed"}
    assert answer["base_resp"] == expected and answer["task_id"] == ""

    # Nothing listens on the receiver's port once it is closed.
    receiver.httpd.shutdown()
    receiver.httpd.server_close()
    assert create(sandbox, "sk-a", callback_url=receiver.url)["base_resp"] == expected
    assert sandbox.tasks() == []


def test_it_gives_up_on_slow_challenge_replies() -> None:
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(1)

        def log_message(self, *args: Any) -> None:
            pass

    slow = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=slow.serve_forever, args=(0.05,), daemon=True).start()
    with SandboxServer(port=0, generation_seconds=0.1, callback_timeout=0.3) as srv:
        started = time.monotonic()
        answer = create(srv, "sk-a", callback_url=f"http://127.0.0.1:{slow.server_port}/")
        assert code(answer) == 2013 and time.monotonic() - started < 1
    slow.shutdown()
    slow.server_close()
