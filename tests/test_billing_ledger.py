"""The credit ledger through every terminal path of a job, driven through videos.services."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import services as billing
from billing.models import EntryKind, LedgerEntry
from billing.periods import period_of
from tests.billing_support import CREATE, QUERY, at, guard, kinds, submit, succeed
from tests.fakes import code, ok
from videos import services
from videos.models import Job, JobStatus
from videos.providers.base import CallbackHint


def test_it_reserves_the_template_price_at_submit(make_job, team, diving):
    job = make_job()
    (entry,) = LedgerEntry.objects.filter(job=job)
    assert (entry.kind, entry.amount_cents, entry.team_id) == (
        "reserve",
        diving.price_cents,
        team.pk,
    )
    assert entry.period == period_of()
    assert guard(team, entry.period) == (1, diving.price_cents)


def test_it_captures_once_when_the_video_is_stored(make_job, upstream, team, diving):
    job = succeed(make_job(), upstream)
    assert job.status == JobStatus.SUCCEEDED
    assert kinds(job) == ["reserve", "capture"]
    capture = LedgerEntry.objects.get(job=job, kind=EntryKind.CAPTURE)
    assert capture.amount_cents == diving.price_cents
    # A second fetch, a late poll and a repeated signal change nothing.
    services.job_fetch(job_id=job.id)
    services.job_poll(job_id=job.id, force=True)
    assert billing.ledger_capture(job_id=job.id) is None
    assert kinds(job) == ["reserve", "capture"]
    assert guard(team, capture.period) == (1, diving.price_cents)  # charged stays counted


def test_it_releases_when_the_upstream_refuses_the_job(make_job, upstream, team):
    job = make_job()
    upstream.on(CREATE, code(2013, "invalid params"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert kinds(job) == ["reserve", "release"]
    assert guard(team, period_of()) == (0, 0)


def test_it_releases_when_the_key_is_rejected(make_job, upstream, team):
    job = make_job()
    upstream.on(CREATE, code(1004, "invalid api key"))
    services.job_submit(job_id=job.id)
    assert kinds(job) == ["reserve", "release"]


def test_it_releases_when_the_upstream_task_fails(make_job, upstream, team):
    job = submit(make_job(), upstream)
    upstream.on(QUERY, ok(task_id="T1", status="Fail", video_url=""))
    services.job_poll(job_id=job.id, force=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert kinds(job) == ["reserve", "release"]


def test_it_releases_on_cancel(make_job, team):
    job = services.job_cancel(job=make_job())
    assert job.status == JobStatus.CANCELED
    assert kinds(job) == ["reserve", "release"]
    assert guard(team, period_of()) == (0, 0)


def test_it_releases_once_for_repeated_callbacks_and_polls(make_job, upstream, team, enqueued):
    job = submit(make_job(), upstream)
    upstream.on(QUERY, ok(task_id="T1", status="Fail", video_url=""))
    for _ in range(3):  # the upstream pushes "failed" three times; each push forces a query
        services.job_record_callback(job=job, hint=CallbackHint(task_id="T1", raw_status="failed"))
        services.job_poll(job_id=job.id, force=True)
    assert billing.ledger_release(job_id=job.id) is None
    assert kinds(job) == ["reserve", "release"]
    assert guard(team, period_of()) == (0, 0)


def test_it_releases_when_the_reconciler_gives_up_on_a_stuck_submit(
    make_job, team, settings, enqueued
):
    job = make_job()
    long_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUBMITTING,
        submitting_since=long_ago,
        submit_attempts=settings.JOB_SUBMIT_MAX_ATTEMPTS,
    )
    assert services.jobs_sweep()["failed"] == 1
    services.jobs_sweep()  # a second sweep finds nothing to do
    assert kinds(job) == ["reserve", "release"]


def test_it_releases_a_job_the_upstream_fails_days_later(make_job, upstream, team):
    job = submit(make_job(), upstream)
    upstream.on(
        QUERY, ok(task_id="T1", status="Processing", video_url=""), ok(task_id="T1", status="Fail")
    )
    later = timezone.now() + timedelta(days=2)
    with at(later.year, later.month, later.day, later.hour):
        services.job_poll(job_id=job.id, force=True)  # still processing: we keep asking
        job.refresh_from_db()
        assert job.status == JobStatus.PROCESSING and kinds(job) == ["reserve"]
        services.job_poll(job_id=job.id, force=True)
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "upstream_failed")
    release = LedgerEntry.objects.get(job=job, kind=EntryKind.RELEASE)
    reserve = LedgerEntry.objects.get(job=job, kind=EntryKind.RESERVE)
    # Released in the month that admitted it, even when that month is over.
    assert release.period == reserve.period


def test_it_requeues_a_stuck_submit_without_touching_the_money(make_job, team, enqueued):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUBMITTING, submitting_since=timezone.now() - timedelta(hours=1)
    )
    assert services.jobs_sweep()["requeued"] == 1
    assert kinds(job) == ["reserve"]


def test_it_ignores_a_settlement_that_comes_out_of_order(make_job, team):
    job = services.job_cancel(job=make_job())
    assert billing.ledger_capture(job_id=job.id) is None  # canceled, then "succeeded": no
    assert kinds(job) == ["reserve", "release"]
    other = make_job()
    billing.ledger_capture(job_id=other.id)
    assert billing.ledger_release(job_id=other.id) is None
    assert kinds(other) == ["reserve", "capture"]


def test_it_ignores_a_job_from_before_billing(make_job, upstream, team):
    job = make_job()
    LedgerEntry.objects.filter(job=job).delete()  # as if made before billing existed
    job = succeed(job, upstream)
    assert job.status == JobStatus.SUCCEEDED
    assert kinds(job) == []


def test_it_settles_in_the_month_the_job_was_admitted(make_job, upstream, team):
    with at(2026, 1, 31, 23, 59):
        job = make_job()
    with at(2026, 2, 1, 0, 10):
        succeed(job, upstream)
    assert set(LedgerEntry.objects.filter(job=job).values_list("period", flat=True)) == {
        date(2026, 1, 1)
    }


def test_it_lets_the_database_refuse_a_second_charge_or_refund(make_job, team):
    job = make_job()
    billing.ledger_capture(job_id=job.id)
    for kind in (EntryKind.CAPTURE, EntryKind.RELEASE, EntryKind.RESERVE):
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(
                team=team, job=job, kind=kind, amount_cents=1, period=period_of()
            )


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "grant", "amount_cents": 0},  # a grant gives something
        {"kind": "capture", "amount_cents": 10},  # a charge belongs to a job
        {"kind": "bogus", "amount_cents": 10},
    ],
)
def test_it_lets_the_database_refuse_malformed_rows(team, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(team=team, period=period_of(), **fields)


def test_it_refuses_a_bad_credit_grant_naming_the_field(team):
    for amount in (0, -5, 1.5, "10"):
        with pytest.raises(billing.BillingInputError) as caught:
            billing.credit_grant(team=team, amount_cents=amount)
        assert caught.value.field == "amount_cents"
    assert not LedgerEntry.objects.exists()


def test_it_keeps_the_guard_in_step_with_the_ledger(make_job, upstream, team, diving):
    charged = succeed(make_job(), upstream)
    services.job_cancel(job=make_job())
    make_job()  # still queued
    period = period_of()
    assert kinds(charged) == ["reserve", "capture"]
    assert guard(team, period) == (2, 2 * diving.price_cents)
