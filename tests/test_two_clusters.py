"""Two django-q2 clusters on one broker, as two worker hosts would run: a burst of jobs is
processed with no job finished twice and none lost.

Runs in both legs: the ORM broker on the SQLite test file (`make test`) and the Redis broker
on PostgreSQL with S3 storage (`make test-services`). The clusters are real `manage.py
qcluster` processes on the test database; the upstream is the sandbox, in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from videos import services
from videos.models import Attachment, AttachmentKind, EventKind, Job, JobEvent, JobStatus
from videos.services import key_store

BASE_DIR = Path(__file__).resolve().parent.parent
JOBS = 12
DEADLINE_SECONDS = 120

pytestmark = pytest.mark.e2e


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{quote(db['NAME'], safe='')}"


def start_cluster(queue: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env={**env, "Q_CLUSTER_NAME": queue},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def log_lines(log: Path) -> list[dict]:
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # a traceback line of a dying process, say
    return lines


def wait_until(condition, *, what: str, processes: list[subprocess.Popen], logs: list[Path]):
    """Bounded wait for work done in other processes; calls `condition` about twice a second."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                pytest.fail(f"a cluster exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    tails = "\n".join(log.read_text()[-2000:] for log in logs)
    pytest.fail(f"timed out waiting for {what}\n{tails}")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_runs_a_burst_on_two_clusters_with_every_job_finished_exactly_once(
    owner, team, diving, png, settings, monkeypatch, tmp_path
):
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    from sandbox.server import SandboxServer

    # One queue for both clusters, as on two hosts of one site; a fresh name keeps other
    # tests' (and other runs') tasks out of it on a shared Redis.
    queue = f"burst-{uuid.uuid4().hex[:10]}"
    monkeypatch.setattr(Conf, "PREFIX", queue)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", queue)

    upstream = SandboxServer(host="127.0.0.1", port=0, generation_seconds=1.0)
    upstream.start()
    settings.MINIMAX_BASE_URL = settings.MINIMAX_CN_BASE_URL = upstream.base_url
    key = key_store(user=owner, label="Burst", secret="sk-burst-owner-0001")

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "MINIMAX_BASE_URL": upstream.base_url,
        "MINIMAX_CN_BASE_URL": upstream.base_url,
        "PUBLIC_BASE_URL": "",  # no callbacks: polling does the work
        "JOB_POLL_FIRST_SECONDS": "1",
        "JOB_POLL_MAX_SECONDS": "1",
        "Q_WORKERS": "2",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    }
    logs = [tmp_path / "cluster-a.log", tmp_path / "cluster-b.log"]
    clusters = [start_cluster(queue, env, log) for log in logs]
    try:
        wait_until(
            lambda: all("running." in log.read_text() for log in logs),
            what="both clusters to run",
            processes=clusters,
            logs=logs,
        )
        jobs = [
            services.job_create(
                team=team,
                user=owner,
                template=diving,
                text_inputs=[],
                media_inputs=[services.MediaInput(upload=SimpleUploadedFile("me.png", png))],
                key_id=key.pk,
                reference=f"burst-{i}",
            )
            for i in range(JOBS)
        ]
        ids = [job.id for job in jobs]

        def all_succeeded() -> bool:
            # The once-a-minute sweeper, run here more often: it hands out the due polls.
            services.jobs_sweep()
            done = Job.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count()
            failed = Job.objects.filter(pk__in=ids, status=JobStatus.FAILED)
            assert not failed.exists(), [(j.error_code, j.error_message) for j in failed]
            return done == JOBS

        wait_until(all_succeeded, what="every job to succeed", processes=clusters, logs=logs)
        # Let duplicate deliveries still in the queue run out before counting.
        wait_until(
            lambda: get_broker(queue).queue_size() == 0,
            what="the queue to drain",
            processes=clusters,
            logs=logs,
        )
    finally:
        for cluster in clusters:
            stop(cluster)
        upstream.stop()

    for job_id in ids:
        results = Attachment.objects.filter(job_id=job_id, kind=AttachmentKind.RESULT)
        assert results.count() == 1, job_id
        stored = JobEvent.objects.filter(
            job_id=job_id, kind=EventKind.VIDEO, message__startswith="Video stored"
        )
        assert stored.count() == 1, job_id
        accepted = JobEvent.objects.filter(job_id=job_id, message__startswith="Accepted by")
        assert accepted.count() == 1, job_id
    # One upstream task per job: no job was submitted twice.
    assert len(upstream.tasks()) == JOBS
    # Both clusters took part (their task lines carry the job id they worked on).
    for log in logs:
        worked_on = {line["job_id"] for line in log_lines(log) if "job_id" in line}
        assert worked_on & {str(job_id) for job_id in ids}, log.read_text()[-3000:]
