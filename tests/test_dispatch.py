"""The dispatcher hands out due work the moment it is due (videos/services/dispatch.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.fakes import ok
from videos import services
from videos.models import Job, JobStatus
from videos.services.dispatch import Dispatched, jobs_dispatch, run_dispatcher

QUERY = "/v1/query/video_template_generation"


@pytest.fixture
def processing(make_job, enqueued):
    """A processing job due now, as the submit left it."""

    def make(due_in: float = 0.0) -> Job:
        job = make_job()
        now = timezone.now()
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.PROCESSING,
            upstream_task_id="T1",
            submitted_at=now,
            next_attempt_at=now + timedelta(seconds=due_in),
        )
        enqueued.clear()
        return job

    return make


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    def run(now=None) -> Dispatched:
        with django_capture_on_commit_callbacks(execute=True):
            return jobs_dispatch(now=now)

    return run


def test_it_hands_out_a_due_poll_once_per_due_time(processing, dispatch, enqueued):
    job = processing()
    assert dispatch().handed_out == 1
    assert enqueued == [("videos.tasks.poll_job", (str(job.id),), {})]
    assert dispatch().handed_out == 0  # not again while its task has not run
    # The look ran and set the next one: due again in 4 s, handed out then.
    later = timezone.now() + timedelta(seconds=4)
    Job.objects.filter(pk=job.pk).update(next_attempt_at=later)
    assert dispatch(now=later - timedelta(seconds=1)).handed_out == 0
    assert dispatch(now=later).handed_out == 1
    assert len(enqueued) == 2


def test_it_hands_out_a_submit_whose_backoff_ran_out(make_job, dispatch, enqueued):
    job = make_job()
    enqueued.clear()
    due = timezone.now() + timedelta(seconds=30)
    Job.objects.filter(pk=job.pk).update(next_attempt_at=due)  # a transient error's backoff
    assert dispatch(now=due).handed_out == 1
    assert enqueued == [("videos.tasks.submit_job", (str(job.id),), {})]


def test_it_leaves_a_new_job_to_the_enqueue_of_its_create(make_job, dispatch, enqueued):
    make_job()
    enqueued.clear()
    assert dispatch().handed_out == 0
    assert enqueued == []


def test_it_hands_a_job_out_again_when_its_task_was_lost(processing, dispatch, enqueued, settings):
    processing()
    dispatch()
    lost = timezone.now() + timedelta(seconds=settings.JOB_DISPATCH_LEASE_SECONDS + 1)
    assert dispatch(now=lost).handed_out == 1
    assert len(enqueued) == 2


def test_it_ignores_finished_and_not_yet_due_jobs(processing, dispatch, enqueued):
    done = processing()
    Job.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    processing(due_in=60)
    assert dispatch().handed_out == 0


def test_it_sleeps_until_the_earliest_due_job_at_most_its_cap(processing, dispatch, settings):
    settings.JOB_DISPATCH_MAX_SLEEP_SECONDS = 1.0
    assert dispatch().sleep == 1.0  # nothing due: look again within the cap
    job = processing(due_in=60)
    assert dispatch().sleep == 1.0
    soon = Job.objects.get(pk=job.pk).next_attempt_at
    assert dispatch(now=soon - timedelta(seconds=0.25)).sleep == pytest.approx(0.25)


def test_it_goes_on_at_once_while_a_batch_is_full(processing, dispatch, settings, enqueued):
    settings.JOB_DISPATCH_BATCH = 2
    for _ in range(3):
        processing()
    first = dispatch()
    assert (first.handed_out, first.sleep) == (2, 0.0)
    assert dispatch().handed_out == 1
    assert len({args for _, args, _ in enqueued}) == 3


def test_it_polls_a_job_handed_out_twice_once(processing, dispatch, upstream):
    job = processing()
    upstream.on(QUERY, ok(task_id="T1", status="Processing", video_url=""))
    # The dispatcher and the sweep both hand it out: the second task finds it not due.
    services.job_poll(job_id=job.id)
    services.job_poll(job_id=job.id)
    assert len(upstream.calls_to(QUERY)) == 1
    assert Job.objects.get(pk=job.pk).poll_count == 1


class FakeStop:
    """A stop event whose waits return at once, recording how long the loop meant to sleep."""

    def __init__(self, rounds: int):
        self.rounds, self.waits = rounds, []

    def is_set(self) -> bool:
        return len(self.waits) >= self.rounds

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return self.is_set()


def test_it_sleeps_as_long_as_each_round_says():
    stop = FakeStop(rounds=3)
    sleeps = iter([0.0, 0.4, 1.0])
    run_dispatcher(stop, dispatch=lambda: Dispatched(1, next(sleeps)))
    assert stop.waits == [0.0, 0.4, 1.0]


def test_it_keeps_going_when_a_round_fails(settings):
    settings.JOB_DISPATCH_MAX_SLEEP_SECONDS = 1.0
    stop = FakeStop(rounds=2)
    answers = iter([RuntimeError("database away"), Dispatched(0, 1.0)])

    def dispatch() -> Dispatched:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    run_dispatcher(stop, dispatch=dispatch)
    assert stop.waits == [5.0, 1.0]  # backs off after the failure, then carries on


def test_it_starts_the_dispatcher_with_the_cluster(monkeypatch, settings):
    settings.JOB_DISPATCH = True
    started = threading.Event()
    order: list[str] = []

    class FakeCluster:
        def start(self):
            order.append("cluster")

    def fake_run(stop):
        order.append("dispatcher")
        started.set()

    monkeypatch.setattr("videos.management.commands.qcluster.Cluster", FakeCluster)
    monkeypatch.setattr("videos.management.commands.qcluster.run_dispatcher", fake_run)
    monkeypatch.setattr(
        "videos.management.commands.qcluster._keep_connections", lambda: order.append("db")
    )
    call_command("qcluster")
    assert started.wait(5)
    assert order == ["db", "cluster", "dispatcher"]  # the dispatcher after the cluster's forks


def test_it_lets_workers_keep_their_database_connection(settings, monkeypatch):
    from videos.management.commands import qcluster

    monkeypatch.delenv("DB_CONN_MAX_AGE", raising=False)
    databases = {
        "default": {"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 0},
        "local": {"ENGINE": "django.db.backends.sqlite3", "CONN_MAX_AGE": 0},
    }
    monkeypatch.setattr(settings._wrapped, "DATABASES", databases)
    qcluster._keep_connections()
    assert databases["default"]["CONN_MAX_AGE"] == settings.WORKER_DB_CONN_MAX_AGE
    assert databases["local"]["CONN_MAX_AGE"] == 0  # SQLite: one writer, always closed
    monkeypatch.setenv("DB_CONN_MAX_AGE", "0")
    databases["default"]["CONN_MAX_AGE"] = 0
    qcluster._keep_connections()
    assert databases["default"]["CONN_MAX_AGE"] == 0  # the operator's choice wins


def test_it_leaves_the_web_connection_pool_out_of_workers(settings, monkeypatch):
    from videos.management.commands import qcluster

    monkeypatch.delenv("DB_CONN_MAX_AGE", raising=False)
    pool = {"min_size": 2, "max_size": 10, "timeout": 10}
    databases = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "CONN_MAX_AGE": 0,
            "OPTIONS": {"pool": pool, "sslmode": "prefer"},
        }
    }
    monkeypatch.setattr(settings._wrapped, "DATABASES", databases)
    qcluster._keep_connections()
    # A pool's threads would not survive the cluster's forks (and Django refuses a pool
    # with persistent connections): one kept connection per worker process instead.
    assert databases["default"]["OPTIONS"] == {"sslmode": "prefer"}
    assert databases["default"]["CONN_MAX_AGE"] == settings.WORKER_DB_CONN_MAX_AGE
