"""vap's parts without a portal: the event parser, inputs, and how answers become exit codes
(the portal's answers played by httpx's MockTransport)."""

from __future__ import annotations

import csv
import json
import zipfile

import httpx
import pytest
from vap.api import Api, ApiError, Event, parse_events
from vap.cli import main, video_file_name
from vap.follow import wait_job, wait_jobs
from vap.inputs import ImageSource, InputError, read_rows, text_values

from tests.conftest import make_image

DIVING = {"id": 1, "name": "Diving", "provider": "minimax", "template_id": "392747428568649728",
          "media_inputs": 1, "text_inputs": 0, "price_cents": 40}  # fmt: skip


def test_it_parses_server_sent_events_as_the_portal_frames_them():
    lines = [
        "retry: 3000", "",
        "id: 7", "event: status", 'data: {"status": "processing",', 'data: "progress": 40}', "",
        ": ping", "",
        "event: done", 'data: {"status": "succeeded"}', "",
    ]  # fmt: skip
    assert list(parse_events(iter(lines))) == [
        Event("status", {"status": "processing", "progress": 40}, "7"),
        Event("done", {"status": "succeeded"}, "7"),
    ]


def test_it_places_texts_in_order_or_by_slot():
    assert text_values(["Lion", "Tiger"], 2) == ["Lion", "Tiger"]
    assert text_values(["2=Tiger", "1=Lion"], 2) == ["Lion", "Tiger"]
    assert text_values(["a=b"], 1) == ["a=b"]  # not a slot number: the value itself
    with pytest.raises(InputError, match="takes 1 text input"):
        text_values(["Lion", "Tiger"], 1)


def test_it_reads_rows_with_images_from_a_zip_by_path_or_name(tmp_path):
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as archive:
        archive.writestr("shots/a.png", make_image())
        archive.writestr("b.jpg", make_image(fmt="JPEG"))
    (tmp_path / "rows.csv").write_text(
        "image,reference\nshots/a.png,one\n\nb.jpg,two\nhttps://example.com/c.png,three\n"
    )
    rows = read_rows(
        tmp_path / "rows.csv",
        images=ImageSource(folder=tmp_path, archive=tmp_path / "images.zip"),
        template=DIVING,
    )
    assert rows.errors == [] and rows.lines == [2, 4, 5]
    values = [item["media_inputs"][0]["value"] for item in rows.items]
    assert values[0].startswith("data:image/png;base64,")
    assert values[1].startswith("data:image/jpeg;base64,")
    assert values[2] == "https://example.com/c.png"
    assert [item["reference"] for item in rows.items] == ["one", "two", "three"]


def test_it_needs_the_columns_the_template_takes(tmp_path):
    (tmp_path / "rows.csv").write_text("reference\nx\n")
    rows = read_rows(tmp_path / "rows.csv", images=ImageSource(folder=tmp_path), template=DIVING)
    assert [str(e) for e in rows.errors] == [
        "rows.csv: Diving takes 1 image column(s), the CSV has 0 (none)"
    ]


def portal(handler):
    return httpx.MockTransport(handler)


def test_it_turns_answers_into_clear_messages_and_exit_codes(capsys, monkeypatch):
    monkeypatch.delenv("VAP_TOKEN", raising=False)
    answers = {
        "/api/v1/videos/gone": (404, {"detail": "no such video", "code": "not_found"}),
        "/api/v1/templates": (401, {"detail": "invalid token", "code": "unauthorized"}),
    }

    def handler(request):
        status, body = answers[request.url.path]
        return httpx.Response(status, json=body)

    assert main(["get", "gone", "--token", "t"], transport=portal(handler)) == 4
    assert "no such video [HTTP 404 not_found]" in capsys.readouterr().err
    assert main(["templates", "--token", "t"], transport=portal(handler)) == 3
    assert "check VAP_TOKEN" in capsys.readouterr().err
    assert main(["templates"], transport=portal(handler)) == 2  # no token at all


def test_it_names_the_csv_line_of_each_item_the_portal_refuses(tmp_path, capsys, monkeypatch):
    (tmp_path / "a.png").write_bytes(make_image())
    with open(tmp_path / "rows.csv", "w", newline="") as file:
        csv.writer(file).writerows([["image"], ["a.png"], ["a.png"], ["a.png"]])

    def handler(request):
        if request.url.path == "/api/v1/templates":
            return httpx.Response(200, json={"items": [DIVING]})
        assert request.headers["Idempotency-Key"]
        assert len(json.loads(request.content)["items"]) == 3
        errors = [{"index": 2, "field": "items[2].media_inputs[0].value", "message": "too small"}]
        body = {"detail": "1 item is invalid", "code": "invalid", "errors": errors}
        return httpx.Response(422, json=body)

    monkeypatch.chdir(tmp_path)
    code = main(
        ["batch", "create", "rows.csv", "--template", "Diving", "--token", "t"],
        transport=portal(handler),
    )
    assert code == 5
    assert "rows.csv line 4: items[2].media_inputs[0].value: too small" in capsys.readouterr().err


def test_it_polls_when_no_event_stream_is_free():
    seen = iter(["processing", "succeeded"])

    def handler(request):
        if request.url.path.endswith("/events"):
            return httpx.Response(429, json={"detail": "too many", "code": "too_many_streams"})
        return httpx.Response(200, json={"id": "j", "status": next(seen), "progress": 50})

    api = Api("http://portal.test", "t", transport=portal(handler))
    waits: list[float] = []
    job = wait_job(api, "j", sleep=waits.append)
    assert job["status"] == "succeeded" and waits == [2.0]


def test_it_follows_many_jobs_and_returns_them_in_order():
    def handler(request):
        video_id = request.url.path.split("/")[4]
        if request.url.path.endswith("/events"):
            if video_id == "bad":
                return httpx.Response(401, json={"detail": "token revoked", "code": "unauthorized"})
            frames = 'event: progress\ndata: {"progress": 60}\n\nevent: done\ndata: {}\n\n'
            return httpx.Response(200, text=frames, headers={"Content-Type": "text/event-stream"})
        return httpx.Response(200, json={"id": video_id, "status": "succeeded", "progress": 100})

    api = Api("http://portal.test", "t", transport=portal(handler))
    seen: list[tuple[str, int]] = []
    ended: list[str] = []
    jobs = wait_jobs(
        api,
        ["a", "b", "c", "d", "e"],
        on_event=lambda video_id, event: seen.append((video_id, event.data.get("progress"))),
        on_finished=lambda job: ended.append(job["id"]),
        streams=2,
    )
    assert [job["id"] for job in jobs] == ["a", "b", "c", "d", "e"]
    assert sorted(ended) == ["a", "b", "c", "d", "e"]
    assert sorted(v for v, progress in seen if progress == 60) == ["a", "b", "c", "d", "e"]
    with pytest.raises(ApiError, match="token revoked"):
        wait_jobs(api, ["a", "bad", "c"], streams=2)


def test_it_sends_a_create_again_with_the_same_key_when_the_answer_is_lost():
    keys: list[str] = []

    def handler(request):
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return httpx.Response(201, json={"id": "j", "status": "queued"})

    api = Api("http://portal.test", "t", transport=portal(handler))
    api.sleep = lambda seconds: None
    assert api.video_create({"template_id": "1"}, idempotency_key="k-1")["id"] == "j"
    assert keys == ["k-1", "k-1"]


def test_it_reads_the_portals_text_columns_first(tmp_path):
    run_for_life = {**DIVING, "name": "Run for Life", "text_inputs": 1}
    (tmp_path / "a.png").write_bytes(make_image())
    (tmp_path / "rows.csv").write_text("notes,image,text\nfor me,a.png,Lion\n")
    rows = read_rows(
        tmp_path / "rows.csv", images=ImageSource(folder=tmp_path), template=run_for_life
    )
    assert rows.errors == [] and rows.items[0]["text_inputs"] == [{"value": "Lion"}]
    assert video_file_name(7, "sku 1/é") == "0007-sku-1.mp4"
    assert video_file_name(8, "") == "0008.mp4"


def test_it_pins_a_key_of_the_provider_asked_for(tmp_path, monkeypatch):
    useapi = {**DIVING, "id": 2, "provider": "useapi", "region": "global"}
    keys = [
        {"id": 5, "provider": "minimax", "region": "global", "status": "active"},
        {"id": 8, "provider": "useapi", "region": "global", "status": "invalid"},
        {"id": 9, "provider": "useapi", "region": "global", "status": "active"},
    ]
    sent: list[dict] = []

    def handler(request):
        if request.url.path == "/api/v1/templates":
            assert request.url.params["provider"] == "useapi"
            return httpx.Response(200, json={"items": [useapi]})
        if request.url.path == "/api/v1/keys":
            return httpx.Response(200, json={"items": keys})
        sent.append(json.loads(request.content))
        return httpx.Response(201, json={"id": "j", "status": "queued"})

    (tmp_path / "me.png").write_bytes(make_image())
    monkeypatch.chdir(tmp_path)
    argv = ["create", "--template", "Diving", "--provider", "useapi", "--image", "me.png"]
    assert main([*argv, "--token", "t"], transport=portal(handler)) == 0
    assert sent[0]["key_id"] == 9 and sent[0]["template_id"] == DIVING["template_id"]


def test_it_resumes_a_stream_the_server_ended_after_the_last_event():
    asked: list[str | None] = []

    def handler(request):
        if request.url.path.endswith("/events"):
            asked.append(request.headers.get("Last-Event-ID"))
            if len(asked) == 1:  # the server's time limit: no `done`
                frames = 'id: 5\nevent: status\ndata: {"status": "processing"}\n\n'
            else:
                frames = (
                    'id: 6\nevent: status\ndata: {"status": "succeeded"}\n\n'
                    "event: done\ndata: {}\n\n"
                )
            return httpx.Response(200, text=frames, headers={"Content-Type": "text/event-stream"})
        status = "processing" if len(asked) == 1 else "succeeded"
        return httpx.Response(200, json={"id": "j", "status": status, "progress": 50})

    api = Api("http://portal.test", "t", transport=portal(handler))
    statuses: list[str] = []
    job = wait_job(api, "j", on_event=lambda e: statuses.append(e.data.get("status", "")))
    assert job["status"] == "succeeded"
    assert asked == [None, "5"] and statuses == ["processing", "succeeded", ""]
