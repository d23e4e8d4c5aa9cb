from __future__ import annotations

from tests.fakes import MP4, FakeResponse, ok
from videos import services
from videos.models import JobStatus


def test_it_runs_a_job_from_queued_to_succeeded(
    make_job, upstream, enqueued, django_capture_on_commit_callbacks
):
    job = make_job()
    upstream.on("/v1/video_template_generation", ok(task_id="401047179385389059"))
    upstream.on(
        "/v1/query/video_template_generation",
        ok(task_id="401047179385389059", status="Success", video_url="https://cdn.example/v.mp4"),
    )
    upstream.on("/v.mp4", FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING
    with django_capture_on_commit_callbacks(execute=True):
        services.job_poll(job_id=job.id, force=True)
    services.job_fetch(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result.duration_s == 3.0
