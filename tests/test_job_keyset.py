"""Keyset pages of jobs (videos.selectors.jobs_page): the API list and the portal list.

Every page costs the same queries at any depth, ties on created_at are broken by id, and on
PostgreSQL a deep page is an index range walk (no sort over the team's jobs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.api.cursors import cursor_encode
from videos.models import Job
from videos.selectors import jobs_for_team, jobs_page


def _bulk_jobs(team, owner, template, n: int, *, start=None, step=timedelta(seconds=1)):
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    jobs = [
        Job(team=team, created_by=owner, template=template, provider=template.provider)
        for _ in range(n)
    ]
    Job.objects.bulk_create(jobs, batch_size=2000)
    # auto_now_add sets "now" on insert: give them distinct times (or ties) afterwards.
    for i, job in enumerate(jobs):
        job.created_at = start + step * i
    Job.objects.bulk_update(jobs, ["created_at"], batch_size=2000)
    return jobs


def _walk(team, *, limit: int) -> list:
    seen, cursor = [], None
    while True:
        page = jobs_page(jobs_for_team(team=team), limit=limit, after=cursor)
        seen += [job.pk for job in page.object_list]
        cursor = page.next_cursor
        if cursor is None:
            return seen


def test_it_walks_every_job_once_newest_first_through_ties(team, owner, diving, outsider):
    # Seven jobs share one created_at: the id decides their order, none is lost or repeated.
    _bulk_jobs(team, owner, diving, 7, step=timedelta(0))
    _bulk_jobs(team, owner, diving, 6, start=datetime(2026, 2, 1, tzinfo=UTC))
    _bulk_jobs(outsider.personal_team, outsider, diving, 5)
    expected = list(
        Job.objects.filter(team=team).order_by("-created_at", "-id").values_list("pk", flat=True)
    )
    assert _walk(team, limit=3) == expected
    assert len(expected) == 13


def test_it_walks_back_to_the_newer_pages(team, owner, diving):
    _bulk_jobs(team, owner, diving, 9, step=timedelta(0))
    jobs = jobs_for_team(team=team)
    first = jobs_page(jobs, limit=4)
    second = jobs_page(jobs, limit=4, after=first.next_cursor)
    third = jobs_page(jobs, limit=4, after=second.next_cursor)
    assert len(third.object_list) == 1 and not third.has_next
    back = jobs_page(jobs, limit=4, before=third.previous_cursor)
    assert back.object_list == second.object_list and back.has_next and back.has_previous
    top = jobs_page(jobs, limit=4, before=back.previous_cursor)
    assert top.object_list == first.object_list and not top.has_previous


def test_it_costs_the_same_queries_for_a_deep_page_as_for_the_first(
    owner_client, team, owner, diving
):
    jobs = _bulk_jobs(team, owner, diving, 300)
    url = reverse("videos:job_list")
    with CaptureQueriesContext(connection) as first:
        owner_client.get(url)
    deep = jobs[-271]  # 90 % deep, newest first
    with CaptureQueriesContext(connection) as later:
        response = owner_client.get(url, {"after": cursor_encode(deep.created_at, deep.pk)})
    assert len(response.context["page"].object_list) == 20
    assert response.context["page"].object_list[0].pk == jobs[-272].pk
    assert len(later) == len(first)
    on_jobs = [q["sql"].upper() for q in later if 'FROM "VIDEOS_JOB"' in q["sql"].upper()]
    assert on_jobs and not any("COUNT(" in sql or "OFFSET" in sql for sql in on_jobs)


def test_it_lists_the_api_page_in_the_same_queries_at_any_depth(api, team, owner, diving):
    _bulk_jobs(team, owner, diving, 120)
    with CaptureQueriesContext(connection) as first:
        page = api.get("/videos", limit=50).json()
    cursor = api.get("/videos", limit=50, cursor=page["next_cursor"]).json()["next_cursor"]
    with CaptureQueriesContext(connection) as deep:
        last = api.get("/videos", limit=50, cursor=cursor).json()
    assert len(last["items"]) == 20 and last["next_cursor"] is None
    assert len(deep) == len(first)


@pytest.mark.postgres
def test_it_reads_a_deep_page_by_walking_the_index(team, owner, diving, outsider):
    """EXPLAIN on PostgreSQL: the cursor is an index condition on (team, created_at, id)."""
    jobs = _bulk_jobs(team, owner, diving, 20_000)
    _bulk_jobs(outsider.personal_team, outsider, diving, 2_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE videos_job")
    deep = jobs[2_000]  # 90 % deep, newest first
    with CaptureQueriesContext(connection) as queries:
        page = jobs_page(
            jobs_for_team(team=team), limit=20, after=cursor_encode(deep.created_at, deep.pk)
        )
    assert page.object_list[0].pk == jobs[1_999].pk
    (select,) = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert '("videos_job"."created_at", "videos_job"."id") <' in select  # a row comparison
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + select)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "job_team_created_id_idx" in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan
