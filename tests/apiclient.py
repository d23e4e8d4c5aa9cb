"""A thin JSON API client over Django's test client, speaking for one token."""

from __future__ import annotations

import json


class ApiClient:
    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        result = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        result.update(headers or {})
        return result

    def get(self, path: str, *, headers: dict | None = None, **params):
        return self.client.get(f"/api/v1{path}", params, headers=self._headers(headers))

    def post(self, path: str, body=None, *, headers: dict | None = None):
        return self.client.post(
            f"/api/v1{path}",
            data=json.dumps(body if body is not None else {}),
            content_type="application/json",
            headers=self._headers(headers),
        )

    def delete(self, path: str, *, headers: dict | None = None):
        return self.client.delete(f"/api/v1{path}", headers=self._headers(headers))

    def as_token(self, token: str | None) -> ApiClient:
        return ApiClient(self.client, token)


def data_url(image: bytes, content_type: str = "image/png") -> str:
    import base64

    return f"data:{content_type};base64,{base64.b64encode(image).decode()}"


def drive_to_success(job, upstream, *, task_id: str = "T-1") -> None:
    """Take a queued job through submit, poll and fetch against the fake upstream."""
    from tests.fakes import MP4, FakeResponse, ok
    from videos import services

    upstream.on("/v1/video_template_generation", ok(task_id=task_id))
    upstream.on(
        "/v1/query/video_template_generation",
        ok(task_id=task_id, status="Success", video_url="https://cdn.example/v.mp4"),
    )
    upstream.on("/v.mp4", FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    services.job_submit(job_id=job.id)
    services.job_poll(job_id=job.id, force=True)
    services.job_fetch(job_id=job.id)
