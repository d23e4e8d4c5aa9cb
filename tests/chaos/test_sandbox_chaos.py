"""The sandbox's chaos mode and the test aids the chaos run leans on (sandbox/chaos.py).

No Django and no services: these run in both legs (the chaos run itself, next door, only in
`make test-services`). Where a test needs one kind of fault, it narrows the endpoint's menu
of faults to that kind, so no seed has to be hunted for.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox import SandboxServer
from sandbox import chaos as faults
from sandbox.chaos import Chaos, Fault
from sandbox.png import gradient_png
from tests.test_sandbox import Receiver

DIVING = "392747428568649728"  # 1 image, in both flavours
CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


def serve(**options: Any) -> SandboxServer:
    server = SandboxServer(port=0, generation_seconds=0.3, heartbeat_seconds=0.05, **options)
    server.start()
    return server


def mm_create(
    srv: SandboxServer, key: str, callback_url: str = "", n: int = 0, timeout: float = 5.0
) -> requests.Response:
    image = "data:image/png;base64," + base64.b64encode(gradient_png(n % 4)).decode()
    body: dict[str, Any] = {"template_id": DIVING, "media_inputs": [{"value": image}]}
    if callback_url:
        body["callback_url"] = callback_url
    headers = {"Authorization": f"Bearer {key}"}
    return requests.post(f"{srv.base_url}{CREATE}", json=body, headers=headers, timeout=timeout)


def mm_query(srv: SandboxServer, key: str, task_id: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return requests.get(
        f"{srv.base_url}{QUERY}", params={"task_id": task_id}, headers=headers, timeout=5
    )


def ua_upload(srv: SandboxServer, token: str) -> requests.Response:
    return requests.post(
        f"{srv.base_url}/v1/minimax/files/",
        data=gradient_png(2),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
        timeout=10,
    )


def ua_create(srv: SandboxServer, token: str, **fields: Any) -> requests.Response:
    ref = ua_upload(srv, token).json()
    return requests.post(
        f"{srv.base_url}/v1/minimax/videos/agent-create",
        json={"templateId": DIVING, **ref, **fields},
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=10,
    )


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


# --- the oracle ----------------------------------------------------------------------------


def test_it_faults_about_the_rate_and_repeats_with_its_seed():
    menu = faults.MINIMAX_QUERY

    def decisions(seed: int) -> list[str | None]:
        oracle = Chaos(0.3, seed)
        found = [oracle.fault("q", f"task-{n}", menu) for n in range(2000)]
        return [f.name if f else None for f in found]

    first = decisions(7)
    share = sum(1 for d in first if d) / len(first)
    assert 0.26 < share < 0.34
    assert decisions(7) == first
    assert decisions(8) != first
    assert {d for d in first if d} == {f.name for f in menu}  # every kind comes up


def test_it_never_faults_one_request_more_than_max_run_times_in_a_row():
    oracle = Chaos(1.0, 1, max_run=2)
    got = [oracle.fault("q", "same", faults.MINIMAX_QUERY) is not None for _ in range(7)]
    assert got == [True, True, False, True, True, False, True]
    assert oracle.fault("q", "another", faults.MINIMAX_QUERY) is not None


def test_it_answers_a_rate_limit_only_as_often_as_told():
    oracle = Chaos(1.0, 3, max_run=100, rate_limits=1)
    only = (Fault("code", faults.RATE_LIMIT_CODE),)
    assert oracle.fault("c", "x", only) == only[0]
    assert oracle.fault("c", "y", only) is None  # used up: the call goes through
    assert oracle.stats()["c.code1002"] == 1


# --- off by default ------------------------------------------------------------------------


def test_it_faults_nothing_unless_asked(receiver):
    srv = serve()
    try:
        for n in range(30):
            answer = mm_create(srv, "sk-plain-key", receiver.url, n).json()
            assert answer["base_resp"]["status_code"] == 0
        wait_for(lambda: len(receiver.pushes()) == 60)
        time.sleep(0.5)
        assert len(receiver.pushes()) == 60  # two pushes per task, no copies
        assert srv.chaos_stats()["calls"] == 0 and srv.chaos_stats()["faults"] == 0
    finally:
        srv.stop()


# --- the faults ----------------------------------------------------------------------------


def test_it_answers_a_gateway_error_in_html_and_a_code_in_base_resp(monkeypatch):
    srv = serve(chaos=1.0, chaos_max_run=10)
    try:
        monkeypatch.setattr(faults, "MINIMAX_QUERY", (Fault("http", 502),))
        resp = mm_query(srv, "sk-some-key", "123")
        assert resp.status_code == 502 and resp.headers["Content-Type"] == "text/html"
        monkeypatch.setattr(faults, "MINIMAX_QUERY", (Fault("code", 1033),))
        resp = mm_query(srv, "sk-some-key", "123")
        assert resp.status_code == 200 and resp.json()["base_resp"]["status_code"] == 1033
        assert requests.get(f"{srv.base_url}/_sandbox/chaos", timeout=5).json()["faults"] == 2
    finally:
        srv.stop()


def test_it_makes_the_task_of_a_create_it_answers_late(monkeypatch):
    monkeypatch.setattr(faults, "MINIMAX_CREATE", (Fault("late"),))
    srv = serve(chaos=1.0, chaos_late_seconds=1.0)
    try:
        with pytest.raises(requests.Timeout):
            mm_create(srv, "sk-some-key", timeout=0.3)
        assert len(srv.tasks()) == 1  # made, and billed, although the client saw nothing
    finally:
        srv.stop()


def test_it_drops_a_useapi_stream_before_it_names_the_video(monkeypatch):
    monkeypatch.setattr(faults, "USEAPI_CREATE", (Fault("cut"),))
    monkeypatch.setattr(faults, "USEAPI_UPLOAD", ())
    srv = serve(chaos=1.0)
    try:
        resp = ua_create(srv, "user:5-some-token", replyRef="job-1")
        assert resp.status_code == 200
        assert "videoId" not in resp.content.decode()
        (video,) = srv.useapi_videos()
        assert video["replyRef"] == "job-1"  # it exists: a listing can find it
    finally:
        srv.stop()


def test_it_refuses_useapi_calls_with_real_statuses(monkeypatch):
    monkeypatch.setattr(faults, "USEAPI_UPLOAD", (Fault("http", 596),))
    srv = serve(chaos=1.0)
    try:
        resp = ua_upload(srv, "user:5-some-token")
        assert resp.status_code == 596 and "error" in resp.json()
    finally:
        srv.stop()


def test_it_duplicates_and_reorders_pushes(monkeypatch, receiver):
    monkeypatch.setattr(faults, "MINIMAX_CREATE", ())
    srv = serve(chaos=1.0)  # every push doubled, every task's pushes reordered
    try:
        task_id = mm_create(srv, "sk-some-key", receiver.url).json()["task_id"]
        wait_for(lambda: srv.pending_pushes() == 0 and len(receiver.pushes()) == 4)
        statuses = [b["status"] for b in receiver.pushes()]
        assert all(b["task_id"] == task_id for b in receiver.pushes())
        assert statuses.index("Success") < statuses.index("processing")
        assert sorted(statuses) == ["Success", "Success", "processing", "processing"]
        stats = srv.chaos_stats()
        assert stats["minimax.push.reorder"] == 1
        assert stats["minimax.push.delivered_duplicate"] == 2
    finally:
        srv.stop()


def test_it_sends_useapi_replies_again_and_stale(monkeypatch, receiver):
    monkeypatch.setattr(faults, "USEAPI_CREATE", ())
    monkeypatch.setattr(faults, "USEAPI_UPLOAD", ())
    srv = serve(chaos=1.0)
    try:
        resp = ua_create(srv, "user:5-some-token", replyUrl=receiver.url, replyRef="job-2")
        resp.close()
        wait_for(lambda: srv.pending_pushes() == 0 and len(receiver.pushes()) == 3)
        assert sorted(b["status"] for b in receiver.pushes()) == [2, 2, 12]  # final twice, stale
        assert receiver.pushes()[0]["status"] == 2  # the final one came first
    finally:
        srv.stop()


def test_it_leaves_a_nochaos_key_alone(receiver):
    srv = serve(chaos=1.0)
    try:
        key = "sk-bait-nochaos-0001"
        answer = mm_create(srv, key, receiver.url).json()
        assert answer["base_resp"]["status_code"] == 0
        assert mm_query(srv, key, answer["task_id"]).json()["base_resp"]["status_code"] == 0
        wait_for(lambda: len(receiver.pushes()) == 2)
        time.sleep(1.0)
        assert [b["status"] for b in receiver.pushes()] == ["processing", "Success"]
        assert srv.chaos_stats()["faults"] == 0
    finally:
        srv.stop()


# --- the test aids -------------------------------------------------------------------------


def test_it_trickles_a_slowfile_download_and_lists_it_in_flight():
    srv = serve(slow_file_seconds=0.6)
    try:
        key = "sk-demo-slowfile-0002"
        task_id = mm_create(srv, key).json()["task_id"]
        url = wait_for(lambda: mm_query(srv, key, task_id).json()["video_url"])
        got: dict[str, Any] = {}

        def download() -> None:
            started = time.monotonic()
            got["bytes"] = requests.get(url, timeout=5).content
            got["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=download)
        thread.start()
        (request,) = wait_for(
            lambda: [r for r in srv.in_flight() if r["path"].startswith("/_sandbox/files/")]
        )
        assert request["method"] == "GET" and request["client_port"] > 0
        thread.join()
        assert got["bytes"] == srv.video and got["seconds"] >= 0.5
        wait_for(lambda: srv.in_flight() == [])
    finally:
        srv.stop()


def test_it_answers_a_slowupload_late_and_names_the_key_in_flight():
    srv = serve(slow_upload_seconds=0.5)
    try:
        token = "user:5-demo-slowupload-k123"
        took: list[float] = []

        def upload() -> None:
            started = time.monotonic()
            assert ua_upload(srv, token).status_code == 200
            took.append(time.monotonic() - started)

        thread = threading.Thread(target=upload)
        thread.start()
        (request,) = wait_for(lambda: srv.in_flight())
        assert request["path"] == "/v1/minimax/files/" and request["key_last4"] == "k123"
        thread.join()
        assert took and took[0] >= 0.5
    finally:
        srv.stop()
