"""Quota, budget and concurrency, enforced when a job is created."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from billing import services as billing
from billing.errors import QuotaExceededError, TeamSuspendedError
from billing.models import LedgerEntry, PeriodUsage, Plan, TeamPlan
from billing.periods import period_of
from billing.selectors import team_usage
from tests.billing_support import at, guard, set_limits
from videos import services
from videos.models import Attachment, Job

NEXT_MONTH = datetime(2026, 4, 1, tzinfo=UTC)


def refused(make_job, **kwargs) -> QuotaExceededError:
    with pytest.raises(QuotaExceededError) as caught:
        make_job(**kwargs)
    return caught.value


def test_it_refuses_the_video_over_the_monthly_limit(make_job, team):
    set_limits(team, videos=2)
    with at(2026, 3, 15, 12):
        make_job()
        make_job()
        error = refused(make_job)
    assert error.limit == "videos"
    assert error.resets_at == NEXT_MONTH
    assert "2 video(s)" in error.message and "1 April 2026 (UTC)" in error.message
    # A refused submit leaves nothing behind: no job, no image, no ledger row.
    assert Job.objects.count() == 2
    assert Attachment.objects.count() == 2
    assert LedgerEntry.objects.count() == 2


def test_it_gives_a_released_video_back_to_the_quota(make_job, team):
    set_limits(team, videos=1)
    services.job_cancel(job=make_job())
    make_job()
    assert refused(make_job).limit == "videos"


def test_it_refuses_a_video_the_budget_cannot_pay_for(make_job, team, diving):
    assert diving.price_cents == 40
    set_limits(team, budget_cents=100)
    with at(2026, 3, 31, 23, 59):
        make_job()
        make_job()
        error = refused(make_job)
    assert error.limit == "budget"
    assert error.resets_at == NEXT_MONTH
    assert "$0.40" in error.message and "$0.20" in error.message and "$1.00" in error.message


def test_it_lets_granted_credit_raise_the_budget(make_job, team, owner):
    set_limits(team, budget_cents=40)
    make_job()
    refused(make_job)
    billing.credit_grant(team=team, amount_cents=40, memo="sorry for the outage", by=owner)
    make_job()
    usage = team_usage(team=team)
    assert (usage.budget_cents, usage.granted_cents, usage.reserved_cents) == (80, 40, 80)


def test_it_refuses_more_jobs_at_once_than_the_plan_runs(make_job, team):
    set_limits(team, concurrent=2)
    first = make_job()
    make_job()
    error = refused(make_job)
    assert (error.limit, error.resets_at) == ("concurrency", None)
    assert "2 video(s) in progress" in error.message
    services.job_cancel(job=first)  # one finishes: room again
    make_job()


def test_it_refuses_a_suspended_team_until_it_is_resumed(make_job, team):
    assert billing.team_suspend(team=team, reason="unpaid invoice")
    assert not billing.team_suspend(team=team, reason="again")  # already suspended
    error = refused(make_job)
    assert isinstance(error, TeamSuspendedError)
    assert error.limit == "suspended" and "unpaid invoice" in error.message
    assert billing.team_resume(team=team)
    make_job()


def test_it_applies_overrides_and_the_teams_own_caps(make_job, team):
    plan = Plan.objects.create(name="Tiny", video_limit=1, budget_cents=1000, max_concurrent=5)
    billing.team_plan_set(team=team, plan=plan)
    TeamPlan.objects.filter(pk=team.pk).update(video_limit_override=5, video_cap=3)
    team_plan = TeamPlan.objects.get(pk=team.pk)
    assert (team_plan.video_limit, team_plan.budget_cents) == (3, 1000)  # min(override, cap)
    for _ in range(3):
        make_job()
    assert refused(make_job).limit == "videos"


def test_it_starts_afresh_at_the_start_of_the_next_month(make_job, team):
    set_limits(team, videos=1)
    with at(2026, 3, 31, 23, 59, 59):
        services.job_cancel(job=make_job())  # released: counts for nothing
        make_job()
        refused(make_job)
    with at(2026, 4, 1, 0, 0, 0):
        make_job()
        assert team_usage(team=team).videos_reserved == 1


def test_it_gives_a_new_team_the_default_plan_from_settings(db, settings):
    user = User.objects.create_user("newbie", "newbie@example.com", "pw-newbie-123")
    team_plan = TeamPlan.objects.select_related("plan").get(team=user.personal_team)
    assert team_plan.plan.is_default
    assert (team_plan.video_limit, team_plan.budget_cents, team_plan.max_concurrent) == (
        settings.DEFAULT_PLAN_VIDEOS,
        settings.DEFAULT_PLAN_BUDGET_CENTS,
        settings.DEFAULT_PLAN_MAX_CONCURRENT,
    )
    assert team_plan.video_limit > 0 and team_plan.budget_cents > 0  # can make videos at once


def test_it_makes_the_default_plan_if_it_is_missing(db, settings):
    Plan.objects.filter(is_default=True).update(is_default=False, name="Old")
    settings.DEFAULT_PLAN_VIDEOS = 7
    plan = billing.plan_default()
    assert (plan.is_default, plan.video_limit) == (True, 7)


def test_it_backs_the_limit_with_a_database_check(make_job, team):
    """Even a code path that forgot the condition cannot overspend: PeriodUsage's CHECK
    refuses an UPDATE past the limits the last reserve was admitted under."""
    set_limits(team, videos=1)
    make_job()
    assert refused(make_job).limit == "videos"
    assert Job.objects.count() == 1
    assert guard(team, period_of()) == (1, 40)
    with pytest.raises(IntegrityError), transaction.atomic():
        PeriodUsage.objects.filter(team=team).update(videos=2)


def test_it_shows_the_refusal_on_the_job_form(owner_client, team, key, diving, png):
    set_limits(team, videos=0)
    response = owner_client.post(
        f"/templates/{diving.pk}/new/",
        {"key": key.pk, "media_0": SimpleUploadedFile("me.png", png, content_type="image/png")},
    )
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1 and "used its 0 video(s) for this month" in errors[0]
    assert "The quota resets on" in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_admits_exactly_the_remaining_quota_under_a_race(owner, key, diving, png, enqueued):
    """100 submits at once against 10 videos left: exactly 10 get in, the ledger adds up."""
    team = owner.personal_team
    set_limits(team, videos=10, budget_cents=1_000_000, concurrent=1000)
    barrier = threading.Barrier(100)
    # Like a web tier's connection pool: PostgreSQL allows 100 connections in all (some are
    # taken), so at most 40 submits hold one at a time; all 100 still race for the quota.
    pool = threading.BoundedSemaphore(40)
    accepted, refusals, errors = [], [], []

    def submit(n: int) -> None:
        barrier.wait()
        try:
            pool.acquire()
            job = services.job_create(
                team=team,
                user=owner,
                template=diving,
                text_inputs=[],
                media_inputs=[services.MediaInput(upload=SimpleUploadedFile(f"{n}.png", png))],
            )
            accepted.append(job.pk)
        except QuotaExceededError as exc:
            refusals.append(exc.limit)
        except Exception as exc:  # a deadlock or anything else fails the test below
            errors.append(repr(exc))
        finally:
            connection.close()
            pool.release()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(accepted) == 10 and refusals == ["videos"] * 90
    assert Job.objects.filter(team=team).count() == 10
    reserves = LedgerEntry.objects.filter(team=team, kind="reserve")
    assert sorted(reserves.values_list("job_id", flat=True)) == sorted(accepted)
    usage = team_usage(team=team)
    assert (usage.videos_reserved, usage.reserved_cents) == (10, 10 * diving.price_cents)
    assert guard(team, period_of()) == (10, 10 * diving.price_cents)
