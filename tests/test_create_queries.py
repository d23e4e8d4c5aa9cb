"""What one `POST /api/v1/videos` asks the database: the vault once, no result lookup, the
quota without a ledger sum (each would be a query per create; tests/test_period_usage.py
covers the quota)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.apiclient import data_url
from tests.conftest import DIVING
from videos.models import Job


@pytest.fixture
def body(png):
    return {"template_id": DIVING, "media_inputs": [{"value": data_url(png)}]}


def _on(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"]]


def _key_checks(queries) -> list[str]:
    # job_pick_key: the pinned key by id, or whether the pool has a usable key at all (the
    # queue estimate's list of the pool's keys, for their capacity, is another question).
    return [
        sql
        for sql in _on(queries, "accounts_providerkey")
        if sql.startswith('SELECT 1 AS "a"') or '"accounts_providerkey"."id" = ' in sql
    ]


def test_it_looks_the_key_up_once_per_create(api, body, key, enqueued):
    api.post("/videos", body)  # the month's first: its counters row is made
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/videos", body)
    assert response.status_code == 201
    assert len(_key_checks(queries)) == 1


def test_it_looks_the_key_up_once_when_it_is_pinned(api, body, key, enqueued):
    api.post("/videos", {**body, "key_id": key.pk})
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/videos", {**body, "key_id": key.pk})
    assert response.status_code == 201 and Job.objects.latest("created_at").key == key
    assert len(_key_checks(queries)) == 1


def test_it_answers_a_new_video_without_asking_for_its_result(api, body, key, enqueued):
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/videos", body)
    assert response.json()["video"] is None
    reads = [sql for sql in _on(queries, "videos_attachment") if sql.startswith("SELECT")]
    assert reads == []


def test_it_still_finds_the_result_of_a_finished_job(make_job, upstream):
    from tests.apiclient import drive_to_success

    job = make_job()
    assert job.result is None
    drive_to_success(job, upstream)
    job.refresh_from_db()
    assert job.result is not None and job.result.file


def test_it_places_a_list_of_queued_jobs_in_three_queries(
    make_job, team, key, django_assert_num_queries
):
    from videos.selectors import queue_spots

    jobs = [make_job(key_id=None) for _ in range(4)]
    # The jobs ahead and those running (one aggregate), the pool's keys, the recent runs.
    with django_assert_num_queries(3):
        spots = queue_spots(jobs)
    assert [spots[job.pk].position for job in jobs] == [1, 2, 3, 4]


@pytest.mark.postgres
def test_it_reads_the_queue_estimate_and_the_running_count_from_indexes(team, owner, diving):
    """EXPLAIN on PostgreSQL: a team with thousands of finished jobs costs a create what a new
    team does — the last runs and the unfinished jobs come from partial indexes, no sort."""
    from datetime import UTC, datetime, timedelta

    from videos.models import JobStatus
    from videos.selectors import _typical_run_seconds

    start = datetime(2026, 1, 1, tzinfo=UTC)
    jobs = [
        Job(team=team, created_by=owner, template=diving, provider=diving.provider)
        for _ in range(20_000)
    ]
    for i, job in enumerate(jobs):
        job.status = JobStatus.SUCCEEDED if i else JobStatus.QUEUED
        job.submitted_at = start + timedelta(minutes=i)
        job.finished_at = job.submitted_at + timedelta(seconds=100 + i % 50) if i else None
    Job.objects.bulk_create(jobs, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE videos_job")
    with CaptureQueriesContext(connection) as queries:
        _typical_run_seconds(team_id=team.pk, provider=diving.provider)
        # As job_create counts them for the quota (a batch's jobs wait behind, uncounted).
        Job.objects.filter(
            team_id=team.pk, status__in=JobStatus.in_flight(), queue_behind=False
        ).count()
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    recent, running = plans
    assert "job_team_recent_runs_idx" in recent and "Sort" not in recent, recent
    assert "job_team_in_flight_idx" in running and "Seq Scan" not in running, running
