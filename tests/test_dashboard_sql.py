"""The dashboard's figures are computed by the database: percentiles in SQL on PostgreSQL,
equal to the nearest-rank percentile in Python (the SQLite fallback), and no job rows read."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from videos.dashboard import percentile, time_to_finish_percentiles
from videos.models import Job, JobStatus


def _finished_jobs(team, owner, template, seconds: list[float]) -> None:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    jobs = [
        Job(team=team, created_by=owner, template=template, provider=template.provider)
        for _ in seconds
    ]
    Job.objects.bulk_create(jobs)
    for i, (job, took) in enumerate(zip(jobs, seconds, strict=True)):
        job.created_at = start + timedelta(minutes=i)
        job.finished_at = job.created_at + timedelta(seconds=took)
        job.status = JobStatus.SUCCEEDED
    Job.objects.bulk_update(jobs, ["created_at", "finished_at", "status"])


@pytest.mark.parametrize("n", [1, 2, 19, 20, 21, 257])
def test_it_takes_the_nearest_rank_percentiles_of_the_time_to_finish(team, owner, diving, n):
    rng = random.Random(n)
    seconds = [round(rng.uniform(30, 900), 3) for _ in range(n)]
    seconds[0:2] = [seconds[-1]] * min(2, n)  # ties
    _finished_jobs(team, owner, diving, seconds)
    fractions = (0.5, 0.95, 0.99)
    expected = [percentile(sorted(seconds), q) for q in fractions]
    got = time_to_finish_percentiles(Job.objects.filter(status=JobStatus.SUCCEEDED), fractions)
    assert got == pytest.approx(expected, abs=1e-6)


def test_it_answers_none_without_finished_jobs(db):
    assert time_to_finish_percentiles(Job.objects.none(), (0.5,)) == [None]


@pytest.mark.postgres
def test_it_reads_no_job_rows_for_the_percentiles_on_postgresql(team, owner, diving):
    _finished_jobs(team, owner, diving, [10.0, 20.0, 30.0, 40.0])
    with CaptureQueriesContext(connection) as queries:
        assert time_to_finish_percentiles(Job.objects.all(), (0.5, 0.95)) == [20.0, 40.0]
    (query,) = queries
    assert "PERCENTILE_DISC(0.5) WITHIN GROUP" in query["sql"]
