from __future__ import annotations

import base64
import uuid

import pytest

from accounts.models import KeyStatus
from integrations.models import ApiToken
from integrations.services import token_create, token_revoke
from tests.apiclient import ApiClient, data_url, drive_to_success
from tests.conftest import ART_FONTS, DIVING, RUN_FOR_LIFE, make_image
from videos.models import AttachmentKind, Job, JobStatus, VideoTemplate
from videos.services import key_store


@pytest.fixture
def body(png):
    return {"template_id": DIVING, "media_inputs": [{"value": data_url(png)}]}


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    # Callback hosts "resolve" without the network: example.com is a public address here.
    monkeypatch.setattr(
        "portal.netguard.resolve",
        lambda host, port: {"hooks.example.com": ["93.184.215.14"]}.get(host, []),
    )


# --- Create ------------------------------------------------------------------------------


def test_it_creates_a_video_from_a_data_url(
    api, body, owner, team, key, enqueued, png, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/videos", body)
    assert response.status_code == 201
    data = response.json()
    job = Job.objects.get()
    assert data["id"] == str(job.id)
    assert (data["status"], data["template_id"], data["template_name"]) == (
        "queued",
        DIVING,
        "Diving",
    )
    assert data["video"] is None and data["error"] is None and data["cost_cents"] == 40
    assert (job.team, job.created_by) == (team, owner)
    assert (job.key, job.key_pinned) == (None, False)  # the pool chooses at submit
    attachment = job.attachments.get(kind=AttachmentKind.INPUT)
    assert (attachment.width, attachment.content_type) == (640, "image/png")
    assert attachment.file.read() == png
    assert [call[0] for call in enqueued] == ["videos.tasks.submit_job"]


def test_it_passes_an_https_image_url_through(api, key, enqueued):
    url = "https://images.example.com/me.jpg"
    response = api.post("/videos", {"template_id": DIVING, "media_inputs": [{"value": url}]})
    assert response.status_code == 201
    job = Job.objects.get()
    assert job.media_urls == [url] and not job.attachments.exists()


def test_it_takes_text_inputs_a_key_and_a_reference(api, key, enqueued, png):
    second = key_store(user=key.user, label="Second", secret="sk-second-secret-0000")
    response = api.post(
        "/videos",
        {
            "template_id": RUN_FOR_LIFE,
            "text_inputs": [{"value": "Lion"}],
            "media_inputs": [{"value": data_url(png)}],
            "key_id": key.pk,
            "reference": "order-7",
        },
    )
    assert response.status_code == 201 and response.json()["reference"] == "order-7"
    job = Job.objects.get()
    assert (job.text_inputs, job.key, job.reference) == (["Lion"], key, "order-7")
    assert second.pk != key.pk


def test_it_keeps_a_public_callback_url(api, body, key, enqueued):
    response = api.post("/videos", {**body, "callback_url": "https://hooks.example.com/v"})
    assert response.status_code == 201
    assert Job.objects.get().callback_url == "https://hooks.example.com/v"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://unknown-host.invalid/hook",
        "ftp://hooks.example.com/v",
        "https://user:pw@hooks.example.com/v",
        "not a url",
    ],
)
def test_it_refuses_a_callback_url_that_is_not_a_public_http_url(api, body, key, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = api.post("/videos", {**body, "callback_url": url})
    assert response.status_code == 422
    assert response.json()["field"] == "callback_url"
    assert not Job.objects.exists()


def test_it_checks_every_address_a_callback_host_resolves_to(api, body, key, monkeypatch):
    monkeypatch.setattr(
        "portal.netguard.resolve", lambda host, port: ["93.184.215.14", "192.168.1.5"]
    )
    response = api.post("/videos", {**body, "callback_url": "https://hooks.example.com/v"})
    assert response.status_code == 422 and "private" in response.json()["detail"]


def _tiny(png):
    return data_url(make_image(200, 200))


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"template_id": None}, "template_id", ""),
        ({"template_id": "123"}, "template_id", "no such template"),
        ({"media_inputs": []}, "media_inputs", "takes 1 image"),
        ({"media_inputs": [{"value": "TINY"}]}, "media_inputs[0]", "shorter side is 200 px"),
        ({"media_inputs": [{"value": "data:image/png;base64,@@@"}]}, "media_inputs[0]", "base64"),
        ({"media_inputs": [{"value": "data:text/plain;base64,aGk="}]}, "media_inputs[0]", ""),
        ({"media_inputs": [{"value": "ftp://x/y.png"}]}, "media_inputs[0]", "http(s) URL"),
        ({"media_inputs": [{"url": "https://x/y.png"}]}, "media_inputs[0].value", "url"),
        ({"text_inputs": [{"value": "Lion"}]}, "text_inputs", "takes 0 text"),
        ({"reference": "r" * 201}, "reference", ""),
        ({"reference": "nul\u0000byte"}, "reference", "control characters"),
        ({"template_id": "39274742\u00008568649728"}, "template_id", "pattern"),
        ({"media_inputs": [{"value": "https://x/\ud800.png"}]}, "media_inputs[0].value", ""),
        ({"key_id": 0}, "key_id", ""),
        ({"callbackUrl": "https://hooks.example.com/v"}, "callbackUrl", ""),
    ],
)
def test_it_names_the_field_and_why_for_bad_input_and_creates_nothing(
    api, body, key, png, change, field, words
):
    payload = {**body, **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    if change.get("media_inputs") == [{"value": "TINY"}]:
        payload["media_inputs"] = [{"value": _tiny(png)}]
    response = api.post("/videos", payload)
    assert response.status_code == 422, response.content
    error = response.json()
    assert error["code"] == "invalid" and error["field"] == field
    assert words in error["detail"]
    assert not Job.objects.exists()


def test_it_names_the_text_field_that_is_too_long(api, key, png):
    response = api.post(
        "/videos",
        {
            "template_id": RUN_FOR_LIFE,
            "text_inputs": [{"value": "x" * 501}],
            "media_inputs": [{"value": data_url(png)}],
        },
    )
    assert response.status_code == 422 and response.json()["field"] == "text_inputs[0].value"


def test_it_refuses_another_users_key(api, body, outsider, key):
    foreign = key_store(user=outsider, label="Theirs", secret="sk-someone-else-9999")
    response = api.post("/videos", {**body, "key_id": foreign.pk})
    assert response.status_code == 422 and response.json()["field"] == "key_id"
    assert not Job.objects.exists()


def test_it_runs_the_template_in_the_region_of_the_key(api, body, owner, diving, enqueued):
    # The same upstream template id in both regions: the key decides which one runs it, by
    # the rule job_create applies (videos.services.job_pick_key).
    china = VideoTemplate.objects.create(
        provider=diving.provider,
        region="cn",
        template_id=diving.template_id,
        name="Diving (CN)",
        media_inputs=diving.media_inputs,
        text_inputs=diving.text_inputs,
        price_cents=diving.price_cents,
    )
    cn_key = key_store(user=owner, label="CN", secret="sk-china-secret-4321", region="cn")
    assert api.post("/videos", body).status_code == 201  # the only key: CN
    global_key = key_store(user=owner, label="Global", secret="sk-global-secret-8765")
    assert api.post("/videos", {**body, "key_id": cn_key.pk}).status_code == 201
    assert api.post("/videos", {**body, "key_id": global_key.pk}).status_code == 201
    assert api.post("/videos", body).status_code == 201  # the default: either region's pool
    jobs = list(Job.objects.order_by("created_at"))
    assert [(job.template, job.key) for job in jobs[:2]] == [(china, None), (china, cn_key)]
    assert (jobs[2].template, jobs[2].key) == (diving, global_key)
    cn_key.status = KeyStatus.INVALID
    cn_key.save()
    response = api.post("/videos", {**body, "key_id": cn_key.pk})
    assert response.status_code == 422 and response.json()["field"] == "key_id"
    assert "rejected" in response.json()["detail"]


def test_it_answers_400_when_there_is_no_usable_key(api, body, key):
    key.status = KeyStatus.INVALID
    key.save()
    response = api.post("/videos", body)
    assert response.status_code == 400
    assert response.json()["code"] == "no_usable_key"
    assert not Job.objects.exists()


def test_it_answers_402_when_the_team_quota_is_used_up(api, body, key, team, enqueued):
    from billing.selectors import team_plan_for

    team_plan = team_plan_for(team=team)
    team_plan.video_limit_override = 0
    team_plan.save()
    response = api.post("/videos", body)
    assert response.status_code == 402
    error = response.json()
    assert error["code"] == "quota_exceeded" and error["limit"] == "videos"
    assert error["resets_at"] and error["detail"]
    assert not Job.objects.exists() and enqueued == []


def test_it_answers_401_to_create_without_a_token_or_with_a_revoked_one(api, body, key):
    assert api.as_token(None).post("/videos", body).status_code == 401
    token_revoke(token=ApiToken.objects.get())
    assert api.post("/videos", body).status_code == 401
    assert not Job.objects.exists()


# --- List --------------------------------------------------------------------------------


def test_it_lists_the_teams_videos_newest_first_page_by_page(api, make_job):
    jobs = [make_job(reference=f"r{i}") for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/videos", **params).json()
        seen += [item["reference"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["r4", "r3", "r2", "r1", "r0"]
    assert len(jobs) == 5


def test_it_filters_the_list_by_status(api, make_job):
    keep, cancel = make_job(reference="keep"), make_job(reference="gone")
    from videos.services import job_cancel

    job_cancel(job=cancel)
    items = api.get("/videos", status="canceled").json()["items"]
    assert [i["reference"] for i in items] == ["gone"]
    assert [i["id"] for i in api.get("/videos", status="queued").json()["items"]] == [str(keep.id)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'["x", "y"]').decode()}, "cursor"),
    ],
)
def test_it_names_the_bad_list_parameter(api, params, field):
    response = api.get("/videos", **params)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_it_lists_nothing_of_another_team(outsider_api, make_job):
    make_job()
    assert outsider_api.get("/videos").json() == {"items": [], "next_cursor": None}


def test_it_answers_401_to_list_without_a_token_or_with_a_revoked_one(api):
    assert api.as_token(None).get("/videos").status_code == 401
    token_revoke(token=ApiToken.objects.get())
    assert api.get("/videos").status_code == 401


# --- Detail ------------------------------------------------------------------------------


def test_it_shows_a_video_with_every_documented_field(api, make_job):
    job = make_job(reference="r")
    data = api.get(f"/videos/{job.id}").json()
    assert set(data) == {
        "id", "status", "provider", "template_id", "template_name", "upstream_task_id",
        "upstream_status",
        "error", "reference", "progress", "created_at", "submitted_at", "finished_at",
        "cost_cents", "video", "key", "queue",
    }  # fmt: skip
    assert data["id"] == str(job.id) and data["reference"] == "r"
    assert data["provider"] == "minimax"
    assert data["key"] == {"label": "Main", "last4": "5678"}
    assert data["queue"] == {"position": 1, "eta_s": 0}


def test_it_shows_a_teammates_video_to_a_token_of_the_same_team(client, teammate, team, make_job):
    job = make_job()
    mate = ApiClient(client, token_create(user=teammate, team=team, name="m")[1])
    assert mate.get(f"/videos/{job.id}").status_code == 200
    # The same person's token for their personal team acts there only.
    personal = ApiClient(
        client, token_create(user=teammate, team=teammate.personal_team, name="p")[1]
    )
    assert personal.get(f"/videos/{job.id}").status_code == 404


def test_it_answers_404_for_another_teams_video_and_unknown_ids(outsider_api, make_job):
    job = make_job()
    for path in (f"/videos/{job.id}", f"/videos/{uuid.uuid4()}"):
        response = outsider_api.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = outsider_api.get("/videos/not-a-uuid")
    assert response.status_code == 422 and response.json()["field"] == "video_id"


def test_it_answers_401_to_detail_without_a_token_or_with_a_revoked_one(api, make_job):
    job = make_job()
    assert api.as_token(None).get(f"/videos/{job.id}").status_code == 401
    token_revoke(token=ApiToken.objects.get())
    assert api.get(f"/videos/{job.id}").status_code == 401


# --- Cancel ------------------------------------------------------------------------------


def test_it_cancels_a_queued_video(api, make_job):
    job = make_job()
    response = api.post(f"/videos/{job.id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.finished_at is not None


def test_it_answers_409_to_cancel_a_video_already_sent(api, make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING, upstream_task_id="1")
    response = api.post(f"/videos/{job.id}/cancel")
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    assert "processing" in response.json()["detail"]
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING


def test_it_answers_404_to_cancel_another_teams_video(outsider_api, make_job):
    job = make_job()
    assert outsider_api.post(f"/videos/{job.id}/cancel").status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_it_answers_401_to_cancel_without_a_token_or_with_a_revoked_one(api, make_job):
    job = make_job()
    assert api.as_token(None).post(f"/videos/{job.id}/cancel").status_code == 401
    token_revoke(token=ApiToken.objects.get())
    assert api.post(f"/videos/{job.id}/cancel").status_code == 401
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


# --- Download ----------------------------------------------------------------------------


def test_it_downloads_the_finished_video(api, make_job, upstream):
    from tests.fakes import MP4

    job = make_job()
    drive_to_success(job, upstream)
    data = api.get(f"/videos/{job.id}").json()
    assert data["status"] == "succeeded" and data["progress"] == 100
    assert data["video"]["url"] == f"http://testserver/api/v1/videos/{job.id}/download"
    assert (data["video"]["bytes"], data["video"]["content_type"]) == (len(MP4), "video/mp4")
    response = api.get(f"/videos/{job.id}/download")
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == MP4


def test_it_answers_404_not_ready_before_the_video_exists(api, make_job):
    job = make_job()
    response = api.get(f"/videos/{job.id}/download")
    assert response.status_code == 404 and response.json()["code"] == "not_ready"


def test_it_answers_404_to_download_another_teams_video(outsider_api, make_job, upstream):
    job = make_job()
    drive_to_success(job, upstream)
    response = outsider_api.get(f"/videos/{job.id}/download")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_it_answers_401_to_download_without_a_token_or_with_a_revoked_one(api, make_job):
    job = make_job()
    assert api.as_token(None).get(f"/videos/{job.id}/download").status_code == 401
    token_revoke(token=ApiToken.objects.get())
    assert api.get(f"/videos/{job.id}/download").status_code == 401


def test_it_creates_a_text_only_video(api, key, enqueued):
    response = api.post("/videos", {"template_id": ART_FONTS, "text_inputs": [{"value": "Hi"}]})
    assert response.status_code == 201
    assert Job.objects.get().text_inputs == ["Hi"]


def test_it_answers_413_for_a_body_over_the_upload_limit(api, body, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/videos", body)
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert not Job.objects.exists()


def test_it_names_bad_input_before_saying_there_is_no_key(api, png):
    response = api.post("/videos", {"template_id": DIVING, "media_inputs": []})
    assert response.status_code == 422 and response.json()["field"] == "media_inputs"
