"""The key pool across workers and hosts: real clusters, the sandbox's own record of what ran.

- 50 concurrent submits over 3 keys of capacity 2, two clusters on PostgreSQL: never more
  than 2 tasks of a key at the upstream at any moment, and all 50 finish.
- A worker SIGKILLed inside a create holds its key's slot only until the lease runs out.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from billing.models import TeamPlan
from tests.support import qcluster, wait_for
from tests.test_two_clusters import database_url, log_lines, start_cluster, stop, wait_until
from videos import services
from videos.models import Job, JobStatus
from videos.selectors import key_loads
from videos.services import key_store

JOBS = 50
CAPACITY = 2


def most_at_once(tasks: list[dict]) -> dict[str, int]:
    """Per key (last 4 characters): the most of its tasks running at the same moment."""
    peaks: dict[str, int] = {}
    by_key: dict[str, list[tuple[float, int]]] = {}
    for task in tasks:
        by_key.setdefault(task["key_last4"], []).extend([(task["started"], 1), (task["ends"], -1)])
    for key, edges in by_key.items():
        running = peak = 0
        # Ends before starts at the same instant: a task that ended frees its slot first.
        for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
            running += step
            peak = max(peak, running)
        peaks[key] = peak
    return peaks


@pytest.mark.postgres
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_never_runs_more_than_a_keys_capacity_across_two_clusters(
    owner, team, diving, png, settings, monkeypatch, tmp_path
):
    from django_q.conf import Conf

    from sandbox.server import SandboxServer

    queue = f"pool-{uuid.uuid4().hex[:10]}"
    monkeypatch.setattr(Conf, "PREFIX", queue)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", queue)
    TeamPlan.objects.filter(pk=team.pk).update(max_concurrent_override=JOBS)
    upstream = SandboxServer(host="127.0.0.1", port=0, generation_seconds=1.0)
    upstream.start()
    settings.MINIMAX_BASE_URL = settings.MINIMAX_CN_BASE_URL = upstream.base_url
    keys = [
        key_store(user=owner, label=f"Pool {n}", secret=f"sk-pool-{n}-key{n}{n}{n}{n}",
                  max_concurrent=CAPACITY)
        for n in range(3)
    ]  # fmt: skip
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "MINIMAX_BASE_URL": upstream.base_url,
        "MINIMAX_CN_BASE_URL": upstream.base_url,
        "PUBLIC_BASE_URL": "",
        "JOB_POLL_FIRST_SECONDS": "1",
        "JOB_POLL_MAX_SECONDS": "1",
        "JOB_POOL_RECHECK_SECONDS": "2",
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
        # 50 submits at once, each through the service as a web request would make it.
        barrier = threading.Barrier(JOBS)
        slots = threading.BoundedSemaphore(20)  # PostgreSQL has room for only so many
        ids, errors = [], []

        def submit(n: int) -> None:
            barrier.wait()
            try:
                with slots:
                    job = services.job_create(
                        team=team,
                        user=owner,
                        template=diving,
                        text_inputs=[],
                        media_inputs=[
                            services.MediaInput(upload=SimpleUploadedFile(f"{n}.png", png))
                        ],
                        reference=f"pool-{n}",
                    )
                    ids.append(job.id)
            except Exception as exc:
                errors.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(JOBS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(ids) == JOBS
        peak_in_flight = {key.pk: 0 for key in keys}

        def all_succeeded() -> bool:
            services.jobs_sweep()  # the once-a-minute sweeper, more often here
            for key_id, load in key_loads(keys).items():
                peak_in_flight[key_id] = max(peak_in_flight[key_id], load.in_flight)
            failed = Job.objects.filter(pk__in=ids, status=JobStatus.FAILED)
            assert not failed.exists(), [(j.error_code, j.error_message) for j in failed]
            return Job.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() == JOBS

        wait_until(all_succeeded, what="every job to succeed", processes=clusters, logs=logs)
    finally:
        for cluster in clusters:
            stop(cluster)
        upstream.stop()

    tasks = upstream.tasks()
    assert len(tasks) == JOBS  # one upstream task per job: no create was sent twice
    peaks = most_at_once(tasks)
    assert set(peaks) == {key.last4 for key in keys}  # every key took part
    assert max(peaks.values()) <= CAPACITY, peaks  # the upstream's own record
    assert max(peak_in_flight.values()) <= CAPACITY
    # Both clusters worked (their task lines carry the job they worked on).
    for log in logs:
        assert {line.get("job_id") for line in log_lines(log)} & {str(i) for i in ids}


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_gives_a_dead_workers_slot_back_to_its_job_after_the_lease(
    owner, team, diving, png, sandbox
):
    # One slot; the first job's create takes 3 s upstream, and its worker is SIGKILLed then.
    key = key_store(user=owner, label="One", secret="sk-lease-slowcreate-gen1", max_concurrent=1)

    def make(n: int) -> Job:
        return services.job_create(
            team=team,
            user=owner,
            template=diving,
            text_inputs=[],
            media_inputs=[services.MediaInput(upload=SimpleUploadedFile(f"{n}.png", png))],
        )

    first = make(1)
    with qcluster() as cluster:
        wait_for(
            lambda: Job.objects.filter(pk=first.pk, status=JobStatus.SUBMITTING).exists(),
            what="the first job to be inside its create",
        )
        os.killpg(cluster.pid, signal.SIGKILL)  # the worker and its cluster die mid-create
        cluster.wait()
    assert key_loads([key])[key.pk].in_flight == 1  # the dead worker still holds the slot
    second = make(2)
    services.job_submit(job_id=second.id)
    second.refresh_from_db()
    assert second.status == JobStatus.QUEUED  # waits for the slot rather than overfilling it
    # The lease (JOB_SUBMITTING_STUCK_SECONDS) runs out: the reconciler takes the job back.
    Job.objects.filter(pk=first.pk).update(submitting_since=timezone.now() - timedelta(hours=1))
    services.jobs_sweep()
    first.refresh_from_db()
    assert first.status == JobStatus.QUEUED and first.upstream_data.get("ambiguous_since")
    # Its create may be running upstream, so the slot is the first job's still: it comes back
    # to that job (to look for the task, or send again), never to overfill the key.
    assert key_loads([key])[key.pk].in_flight == 1
    Job.objects.filter(pk__in=[first.pk, second.pk]).update(next_attempt_at=timezone.now())
    services.job_submit(job_id=second.id)
    second.refresh_from_db()
    assert second.status == JobStatus.QUEUED
    services.job_submit(job_id=first.id)
    first.refresh_from_db()
    assert first.status == JobStatus.PROCESSING and first.key == key
