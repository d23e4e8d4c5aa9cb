"""/metrics for Prometheus (portal/metrics.py, portal/instruments.py)."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from portal import instruments
from tests.fakes import code, ok
from tests.support import run_portal
from videos import services
from videos.models import Job, JobStatus

QUERY = "/v1/query/video_template_generation"
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def scrape(settings, db):
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict[tuple[str, tuple], float]:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return get


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_it_answers_404_without_a_configured_token(client, settings, db):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_it_answers_404_to_a_wrong_token(client, settings, db):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 404
    assert client.post("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 404


def test_it_answers_any_host_like_the_probes(settings, db):
    settings.METRICS_TOKEN = TOKEN
    settings.ALLOWED_HOSTS = ["portal.example"]
    response = Client().get(
        "/metrics", HTTP_HOST="10.0.0.7:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200


def test_it_counts_unfinished_jobs_by_provider_and_state(scrape, make_job):
    make_job()
    late = make_job()
    Job.objects.filter(pk=late.pk).update(
        status=JobStatus.PROCESSING,
        upstream_task_id="T1",
        next_attempt_at=timezone.now() - timedelta(minutes=5),
    )
    samples = scrape()
    assert samples[("vap_jobs", (("provider", "minimax"), ("state", "queued")))] == 1
    assert samples[("vap_jobs", (("provider", "minimax"), ("state", "processing")))] == 1
    assert samples[("vap_jobs_late", ())] == 1
    assert samples[("vap_jobs_due_oldest_seconds", ())] >= 300
    assert samples[("vap_jobs_stuck_submitting", ())] == 0


def test_it_reports_the_queue_depth_and_its_oldest_task(scrape, monkeypatch):
    from django_q.conf import Conf

    from videos import queue

    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")
    monkeypatch.setattr(Conf, "REDIS", None)
    monkeypatch.setattr(Conf, "BROKER_CLASS", None)
    assert scrape()[("vap_queue_depth", ())] == 0
    queue.async_task("videos.tasks.sweep")
    queue.async_task("videos.tasks.sweep")
    samples = scrape()
    assert samples[("vap_queue_depth", ())] == 2
    assert samples[("vap_queue_oldest_seconds", ())] >= 0


def test_it_times_upstream_calls_and_counts_their_error_codes(scrape, make_job, upstream):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, upstream_task_id="T1", next_attempt_at=timezone.now()
    )
    before_ok = sample("vap_upstream_requests_total", provider="minimax", code="ok")
    before_1002 = sample("vap_upstream_requests_total", provider="minimax", code="1002")
    before_n = sample("vap_upstream_request_seconds_count", provider="minimax")
    upstream.on(QUERY, ok(task_id="T1", status="Processing", video_url=""), code(1002))
    services.job_poll(job_id=job.id, force=True)
    services.job_poll(job_id=job.id, force=True)
    samples = scrape()
    key = "vap_upstream_requests_total"
    assert samples[(key, (("code", "ok"), ("provider", "minimax")))] == before_ok + 1
    assert samples[(key, (("code", "1002"), ("provider", "minimax")))] == before_1002 + 1
    count = samples[("vap_upstream_request_seconds_count", (("provider", "minimax"),))]
    assert count == before_n + 2


def test_it_times_tasks_and_their_wait_in_the_queue():
    task = {"func": "videos.tasks.poll_job", "started": timezone.now(), "success": True}
    before = sample("vap_task_seconds_count", task="videos.tasks.poll_job")
    waits = sample("vap_task_queue_wait_seconds_count", task="videos.tasks.poll_job")
    instruments.task_pre_execute(None, func=None, task=task)
    instruments.task_post_execute(None, func=None, task=task)
    assert sample("vap_task_seconds_count", task="videos.tasks.poll_job") == before + 1
    assert sample("vap_task_queue_wait_seconds_count", task="videos.tasks.poll_job") == waits + 1
    assert "_vap_t0" not in task


def test_it_counts_finished_jobs(make_job, django_capture_on_commit_callbacks):
    job = make_job()
    before = sample("vap_jobs_finished_total", provider="minimax", status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        services.job_fail(job.id, code="test", message="for the metrics")
    assert sample("vap_jobs_finished_total", provider="minimax", status="failed") == before + 1


def test_it_adds_up_the_processes_of_a_host_in_multiprocess_mode(tmp_path):
    # Two worker processes count; a third (the web's /metrics) sees the sum of both.
    bump = textwrap.dedent(
        """
        from portal import instruments
        instruments.UPSTREAM_CALLS.labels("minimax", "ok").inc(3)
        """
    )
    read = textwrap.dedent(
        """
        from portal import instruments
        registry = instruments.scrape_registry()
        print(registry.get_sample_value(
            "vap_upstream_requests_total", {"provider": "minimax", "code": "ok"}))
        """
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        assert run_portal(["-c", bump], **env).returncode == 0
    result = run_portal(["-c", read], **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6.0"
