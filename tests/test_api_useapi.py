"""The JSON API with useapi.net keys and templates: keys with their options, videos whose
images must be sent as files (URLs are fetched first), and a video's images."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.models import ProviderKey
from tests.apiclient import data_url
from tests.conftest import DIVING, make_image
from videos.models import AttachmentKind, Job, VideoTemplate
from videos.services import key_store

TOKEN = "user:12-abcDEF_123"


@pytest.fixture
def useapi_diving(db):
    return VideoTemplate.objects.create(
        provider="useapi", region="global", template_id=DIVING, name="Diving", media_inputs=1,
        price_cents=50,
    )  # fmt: skip


@pytest.fixture
def useapi_key(owner):
    return key_store(user=owner, label="useapi", secret=TOKEN, provider="useapi")


# --- Keys ---------------------------------------------------------------------------------


def test_it_stores_a_useapi_key_with_its_options(api, owner):
    body = {"provider": "useapi", "label": "U", "secret": TOKEN, "account": "acct1", "max_jobs": 3}
    response = api.post("/keys", body)
    assert response.status_code == 201
    data = response.json()
    assert (data["provider"], data["account"], data["max_jobs"], data["last4"]) == (
        "useapi",
        "acct1",
        3,
        "_123",
    )
    assert TOKEN not in response.content.decode()
    key = ProviderKey.objects.get(user=owner)
    assert (key.region, key.account, key.max_jobs) == ("global", "acct1", 3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "useapi", "secret": "sk-api-not-a-useapi-token"}, "secret"),
        ({"provider": "useapi", "secret": "user:12-has space"}, "secret"),
        ({"provider": "useapi", "secret": "user:12-ключ"}, "secret"),
        ({"provider": "useapi", "secret": TOKEN, "max_jobs": 11}, "max_jobs"),
        ({"provider": "useapi", "secret": TOKEN, "max_jobs": 0}, "max_jobs"),
        ({"provider": "useapi", "secret": TOKEN, "account": "two words"}, "account"),
        ({"provider": "useapi", "secret": TOKEN, "region": "cn"}, "region"),
        ({"provider": "minimax", "secret": "sk-api-abc12345", "account": "a1"}, "account"),
        ({"provider": "nosuch", "secret": TOKEN}, "provider"),
    ],
)
def test_it_refuses_a_key_of_the_wrong_shape_by_field(api, body, field):
    response = api.post("/keys", {"label": "K", **body})
    assert response.status_code == 422, response.json()
    assert response.json()["field"] == field
    assert not ProviderKey.objects.exists()
    assert body["secret"] not in response.content.decode()


def test_it_lists_keys_of_both_providers(api, owner, useapi_key, key):
    items = api.get("/keys").json()["items"]
    assert {i["provider"] for i in items} == {"useapi", "minimax"}


# --- Videos --------------------------------------------------------------------------------


def test_it_creates_a_useapi_video_from_a_data_url(api, useapi_diving, useapi_key, png, enqueued):
    body = {"template_id": DIVING, "media_inputs": [{"value": data_url(png)}]}
    response = api.post("/videos", body)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["provider"] == "useapi"
    job = Job.objects.get()
    assert (job.provider, job.key, job.cost_cents) == ("useapi", None, 50)


def test_it_refuses_an_image_format_useapi_does_not_take(api, useapi_diving, useapi_key):
    webp = make_image(640, 480, "WEBP")
    body = {"template_id": DIVING, "media_inputs": [{"value": data_url(webp, "image/webp")}]}
    response = api.post("/videos", body)
    assert response.status_code == 422
    assert response.json()["field"] == "media_inputs[0]"
    assert "PNG" in response.json()["detail"] and "WebP" not in response.json()["detail"]
    assert not Job.objects.exists()


class _ImageHost:
    def __init__(self, image: bytes, status: int = 200):
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(status)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(image)))
                self.end_headers()
                self.wfile.write(image)
                host.hits += 1

            def log_message(self, *args):
                pass

        self.hits = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/me.png"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_it_fetches_an_image_url_for_useapi_and_checks_it(
    api, useapi_diving, useapi_key, png, settings, enqueued
):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the image host is local in this test
    host = _ImageHost(png)
    try:
        body = {"template_id": DIVING, "media_inputs": [{"value": host.url}]}
        response = api.post("/videos", body)
    finally:
        host.close()
    assert response.status_code == 201, response.json()
    job = Job.objects.get()
    assert job.media_urls == [""]  # stored, not passed on as a link
    (stored,) = job.attachments.filter(kind=AttachmentKind.INPUT)
    assert stored.file.read() == png and host.hits == 1


@pytest.mark.parametrize(
    ("image", "status", "words"),
    [
        (b"", 404, "HTTP 404"),
        (b"not an image at all", 200, "not a readable"),
        (make_image(200, 200), 200, "shorter side"),
    ],
)
def test_it_refuses_an_image_url_that_does_not_give_a_good_image(
    api, useapi_diving, useapi_key, settings, image, status, words
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    host = _ImageHost(image, status)
    try:
        response = api.post(
            "/videos", {"template_id": DIVING, "media_inputs": [{"value": host.url}]}
        )
    finally:
        host.close()
    assert response.status_code == 422
    assert response.json()["field"] == "media_inputs[0]" and words in response.json()["detail"]
    assert not Job.objects.exists()


def test_it_refuses_an_image_url_on_a_private_address(api, useapi_diving, useapi_key):
    body = {"template_id": DIVING, "media_inputs": [{"value": "http://127.0.0.1:9/me.png"}]}
    response = api.post("/videos", body)
    assert response.status_code == 422 and response.json()["field"] == "media_inputs[0]"
    assert not Job.objects.exists()


# --- A video's images ------------------------------------------------------------------------


def test_it_serves_a_videos_images_to_its_team_only(
    api, outsider_api, useapi_diving, useapi_key, png, enqueued
):
    body = {"template_id": DIVING, "media_inputs": [{"value": data_url(png)}]}
    job_id = api.post("/videos", body).json()["id"]
    image = Job.objects.get().attachments.get(kind=AttachmentKind.INPUT)
    response = api.get(f"/videos/{job_id}/files/{image.pk}")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png
    assert outsider_api.get(f"/videos/{job_id}/files/{image.pk}").status_code == 404
    assert api.get(f"/videos/{job_id}/files/{image.pk + 999}").status_code == 404
