"""Notifications: a job's end tells its submitter, a refused key its owner, a team's month at
80 % / 100 % of its budget or video quota its owners and admins (once per threshold and
month); in the portal (the bell, the list) and by email, sent by the worker."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.urls import reverse

from accounts.models import KeyStatus, Membership, ProviderKey, Role
from billing.models import EntryKind, LedgerEntry
from notifications.models import EmailState, Kind, Notification, NotificationPreference, TeamAlert
from notifications.selectors import bell_for
from notifications.tasks import send_email
from tests.apiclient import drive_to_success
from tests.billing_support import at, set_limits
from tests.fakes import code
from videos import services
from videos.models import JobStatus, KeyEvent, KeyEventKind, VideoTemplate
from videos.services.transitions import finish

CREATE = "/v1/video_template_generation"
SEND = "notifications.tasks.send_email"
PRICE = 100  # cents per video in these tests


def verified(user) -> None:
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


def email_tasks(enqueued) -> list[str]:
    return [args[0] for func, args, _kw in enqueued if func == SEND]


def run_email_tasks(enqueued) -> None:
    for notification_id in email_tasks(enqueued):
        send_email(notification_id)


def of(user, kind) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=kind))


@pytest.fixture
def admin(db, team):
    user = User.objects.create_user("boss", "boss@example.com", "pw-boss-123")
    Membership.objects.create(team=team, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def priced(diving):
    VideoTemplate.objects.filter(pk=diving.pk).update(price_cents=PRICE)
    diving.refresh_from_db()
    return diving


def succeed_now(job) -> None:
    """The one terminal transition, as the fetch ends it (capture, signal, in one commit)."""
    assert finish(job.id, [JobStatus.QUEUED], JobStatus.SUCCEEDED, message="Video stored")


# --- Jobs ----------------------------------------------------------------------------------


def test_it_tells_the_submitter_a_video_is_ready_in_the_portal_only_by_default(
    make_job, owner, upstream, enqueued, django_capture_on_commit_callbacks
):
    verified(owner)
    job = make_job()
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(job, upstream)
    (notification,) = of(owner, Kind.JOB_SUCCEEDED)
    assert notification.title == "Your video “Diving” is ready"
    assert notification.link == reverse("videos:job_detail", args=[job.id])
    assert notification.team_id == job.team_id and notification.read_at is None
    # Off by default for a success: no email, no task.
    assert notification.email_state == EmailState.NOT_WANTED
    assert email_tasks(enqueued) == [] and mail.outbox == []


def test_it_emails_a_failed_video_from_the_worker_not_the_transition(
    make_job, owner, enqueued, django_capture_on_commit_callbacks
):
    verified(owner)
    job = make_job()
    with django_capture_on_commit_callbacks(execute=True):
        services.job_fail(job.id, code="1026", message="The input image was refused")
    (notification,) = of(owner, Kind.JOB_FAILED)
    assert notification.body == "The input image was refused"
    assert email_tasks(enqueued) == [str(notification.pk)]  # an id, nothing else
    assert mail.outbox == []  # not sent by the step that failed the job

    run_email_tasks(enqueued)
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"]
    assert message.subject == "[Video Agent Portal] Your video “Diving” failed"
    assert "The input image was refused" in message.body
    (alternative, kind) = message.alternatives[0]
    assert kind == "text/html" and "The input image was refused" in alternative
    notification.refresh_from_db()
    assert notification.email_state == EmailState.SENT

    send_email(str(notification.pk))  # delivered twice: one email
    assert len(mail.outbox) == 1


def test_it_follows_the_users_choices(
    make_job, owner, enqueued, django_capture_on_commit_callbacks, settings
):
    settings.PUBLIC_BASE_URL = "https://portal.example"
    verified(owner)
    NotificationPreference.objects.create(
        user=owner, kind=Kind.JOB_SUCCEEDED, email=True, portal=False
    )
    NotificationPreference.objects.create(
        user=owner, kind=Kind.JOB_FAILED, email=False, portal=False
    )
    ok, bad = make_job(), make_job()
    with django_capture_on_commit_callbacks(execute=True):
        succeed_now(ok)
        services.job_fail(bad.id, code="1026", message="refused")
    assert of(owner, Kind.JOB_FAILED) == []  # wants neither: nothing at all
    (ready,) = of(owner, Kind.JOB_SUCCEEDED)
    # By email only: never counted by the bell, never listed.
    assert not ready.in_portal and ready.read_at is not None
    assert bell_for(user=owner).unread == 0
    run_email_tasks(enqueued)
    (message,) = mail.outbox
    assert f"https://portal.example/jobs/{ok.id}/" in message.body


def test_it_sends_no_email_to_an_address_nobody_verified(
    make_job, owner, enqueued, django_capture_on_commit_callbacks
):
    job = make_job()
    with django_capture_on_commit_callbacks(execute=True):
        services.job_fail(job.id, code="1026", message="refused")
    run_email_tasks(enqueued)
    assert mail.outbox == []
    (notification,) = of(owner, Kind.JOB_FAILED)
    assert notification.email_state == EmailState.NO_ADDRESS


# --- Keys ----------------------------------------------------------------------------------


def test_it_tells_the_keys_owner_when_the_upstream_rejects_it(
    owner, team, teammate, key, priced, png, upstream, enqueued, django_capture_on_commit_callbacks
):
    verified(owner)
    ProviderKey.objects.filter(pk=key.pk).update(shared_with=team)  # the teammate's job runs on it
    job = _job_of(teammate, team, priced, png, key.pk, django_capture_on_commit_callbacks)
    upstream.on(CREATE, code(1004, "invalid api key"))
    with django_capture_on_commit_callbacks(execute=True):
        services.job_submit(job_id=job.id)
    key.refresh_from_db()
    assert key.status == KeyStatus.INVALID
    (notification,) = of(owner, Kind.KEY_REJECTED)
    assert notification.title == "Your key “Main” (…5678) was rejected by the upstream"
    assert notification.link == reverse("videos:keys") + f"#key-{key.pk}"
    assert of(teammate, Kind.KEY_REJECTED) == []
    # Seen again on the way (the job's end): still one.
    services.key_mark_invalid(key_id=key.pk, reason="invalid api key")
    assert len(of(owner, Kind.KEY_REJECTED)) == 1
    run_email_tasks(enqueued)
    assert [m.subject for m in mail.outbox] == [
        "[Video Agent Portal] Your key “Main” (…5678) was rejected by the upstream"
    ]


def test_it_tells_the_keys_owner_once_a_day_that_it_is_out_of_balance(
    owner, key, make_job, upstream, enqueued, django_capture_on_commit_callbacks
):
    upstream.on(CREATE, code(1008, "insufficient balance"))
    for _ in range(2):  # refused again when its rest ends
        job = make_job()
        with django_capture_on_commit_callbacks(execute=True):
            services.job_submit(job_id=job.id)
        ProviderKey.objects.filter(pk=key.pk).update(cooling_until=None)  # its rest ends
    assert KeyEvent.objects.filter(key=key, kind=KeyEventKind.OUT_OF_BALANCE).count() == 2
    (notification,) = of(owner, Kind.KEY_OUT_OF_BALANCE)
    assert "out of balance" in notification.title and "…5678" in notification.title
    assert notification.ref == f"key:{key.pk}"
    # A day later, still empty: told again.
    Notification.objects.filter(pk=notification.pk).update(
        created_at=notification.created_at - timedelta(hours=25)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.job_submit(job_id=make_job().id)
    assert len(of(owner, Kind.KEY_OUT_OF_BALANCE)) == 2


def _job_of(user, team, template, png, key_id, capture):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with capture(execute=True):
        return services.job_create(
            team=team,
            user=user,
            template=template,
            text_inputs=[],
            media_inputs=[services.MediaInput(upload=SimpleUploadedFile("me.png", png))],
            key_id=key_id,
        )


# --- Budget and quota ----------------------------------------------------------------------


def test_it_alerts_owners_and_admins_once_at_80_and_once_at_100_percent(
    owner, admin, teammate, team, priced, make_job, enqueued, django_capture_on_commit_callbacks
):
    verified(owner)
    set_limits(team, videos=100, budget_cents=10 * PRICE, concurrent=100)
    jobs = [make_job() for _ in range(10)]
    sent = []
    for job in jobs:
        with django_capture_on_commit_callbacks(execute=True):
            succeed_now(job)
        sent.append(
            sorted(
                n.kind
                for n in Notification.objects.filter(
                    user=owner, kind__in=[Kind.BUDGET_80, Kind.BUDGET_100]
                )
            )
        )
    # The 8th video reaches 80 % of the budget, the 10th all of it; none in between.
    assert sent[6] == [] and sent[7] == [Kind.BUDGET_80] and sent[8] == [Kind.BUDGET_80]
    assert sent[9] == [Kind.BUDGET_100, Kind.BUDGET_80]
    for user in (owner, admin):
        assert len(of(user, Kind.BUDGET_80)) == 1 and len(of(user, Kind.BUDGET_100)) == 1
    assert Notification.objects.filter(user=teammate, kind__startswith="budget").count() == 0
    (alert,) = of(owner, Kind.BUDGET_100)
    assert alert.link == reverse("billing:usage")
    assert "$10.00 of $10.00" in alert.body
    run_email_tasks(enqueued)
    subjects = [m.subject for m in mail.outbox]  # the owner's verified address only
    assert subjects == [
        f"[Video Agent Portal] {team.name} has spent 80 % of this month's budget",
        f"[Video Agent Portal] {team.name} has spent this month's budget",
    ]


def test_it_alerts_on_the_video_quota_and_again_next_month(
    owner, team, priced, make_job, enqueued, django_capture_on_commit_callbacks
):
    set_limits(team, videos=5, budget_cents=1000 * PRICE, concurrent=100)
    for month in (3, 4):
        with at(2026, month, 10, 12, 0):
            jobs = [make_job() for _ in range(5)]
            for job in jobs:
                with django_capture_on_commit_callbacks(execute=True):
                    succeed_now(job)
    assert len(of(owner, Kind.QUOTA_80)) == 2 and len(of(owner, Kind.QUOTA_100)) == 2
    periods = TeamAlert.objects.filter(team=team).values_list("period", "threshold")
    assert sorted((p.month, t) for p, t in periods) == [
        (3, "quota_100"),
        (3, "quota_80"),
        (4, "quota_100"),
        (4, "quota_80"),
    ]


def test_it_says_100_percent_once_when_one_video_jumps_past_80(
    owner, team, priced, make_job, enqueued, django_capture_on_commit_callbacks
):
    set_limits(team, videos=100, budget_cents=PRICE, concurrent=100)
    with django_capture_on_commit_callbacks(execute=True):
        succeed_now(make_job())
    assert of(owner, Kind.BUDGET_80) == [] and len(of(owner, Kind.BUDGET_100)) == 1
    # The 80 % row is kept: it is never announced later in the month.
    assert TeamAlert.objects.filter(team=team, threshold=Kind.BUDGET_80).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_alerts_once_per_threshold_when_jobs_cross_it_concurrently(
    owner, admin, team, priced, make_job, enqueued
):
    """20 jobs finishing at once, each 5 % of the budget and of the quota: 80 % and 100 % are
    crossed by whichever commit first, and announced exactly once each."""
    set_limits(team, videos=20, budget_cents=20 * PRICE, concurrent=100)
    jobs = [make_job() for _ in range(20)]
    barrier = threading.Barrier(len(jobs))
    errors: list[str] = []

    def finish_one(job) -> None:
        barrier.wait()
        try:
            succeed_now(job)
        except Exception as exc:  # a deadlock or anything else fails the test below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=finish_one, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert LedgerEntry.objects.filter(team=team, kind=EntryKind.CAPTURE).count() == 20
    assert TeamAlert.objects.filter(team=team).count() == 4
    for user in (owner, admin):
        for kind in (Kind.BUDGET_80, Kind.BUDGET_100, Kind.QUOTA_80, Kind.QUOTA_100):
            assert len(of(user, kind)) == 1, (user, kind)


# --- The portal ----------------------------------------------------------------------------


def _many(user, n: int) -> list[Notification]:
    return [
        Notification.objects.create(
            user=user, kind=Kind.JOB_FAILED, title=f"Failed {i}", link="/jobs/"
        )
        for i in range(n)
    ]


def test_it_counts_unread_in_the_bell_up_to_9_plus(owner_client, owner, outsider):
    _many(outsider, 3)
    page = owner_client.get(reverse("notifications:index")).content.decode()
    assert 'class="bell-count"' not in page
    _many(owner, 3)
    page = owner_client.get(reverse("videos:job_list")).content.decode()
    assert '<span class="bell-count">3</span>' in page
    _many(owner, 9)
    assert bell_for(user=owner).label == "9+"
    page = owner_client.get(reverse("videos:job_list")).content.decode()
    assert '<span class="bell-count">9+</span>' in page


def test_it_opens_one_marks_it_read_and_goes_to_its_link(owner_client, owner):
    first, second = _many(owner, 2)
    response = owner_client.post(reverse("notifications:open", args=[first.pk]))
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    assert owner_client.get(reverse("notifications:open", args=[first.pk])).status_code == 405


def test_it_never_redirects_off_site(owner_client, owner):
    odd = Notification.objects.create(
        user=owner, kind=Kind.JOB_FAILED, title="x", link="//evil.example/"
    )
    response = owner_client.post(reverse("notifications:open", args=[odd.pk]))
    assert response["Location"] == reverse("notifications:index")


def test_it_marks_all_read(owner_client, owner, outsider):
    _many(owner, 4)
    (theirs,) = _many(outsider, 1)
    response = owner_client.post(reverse("notifications:read_all"), follow=True)
    assert "4 notification(s) marked read." in response.content.decode()
    assert bell_for(user=owner).unread == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_it_answers_404_for_another_users_notification(owner_client, outsider, teammate):
    (theirs,) = _many(outsider, 1)
    (mates,) = _many(teammate, 1)  # same team, still not the owner's
    for notification in (theirs, mates):
        response = owner_client.post(reverse("notifications:open", args=[notification.pk]))
        assert response.status_code == 404
        notification.refresh_from_db()
        assert notification.read_at is None
    missing = owner_client.post(reverse("notifications:open", args=[999_999]))
    assert missing.status_code == 404


def test_it_lists_newest_first_in_pages(owner_client, owner):
    rows = _many(owner, 35)
    page = owner_client.get(reverse("notifications:index"))
    assert [n.pk for n in page.context["items"]] == [n.pk for n in reversed(rows)][:30]
    older = owner_client.get(
        reverse("notifications:index"), {"before": page.context["next_before"]}
    )
    assert [n.title for n in older.context["items"]] == [f"Failed {i}" for i in range(4, -1, -1)]
    assert older.context["next_before"] is None


def test_it_refuses_a_bad_page_marker_clearly(owner_client, owner):
    response = owner_client.get(reverse("notifications:index"), {"before": "abc"})
    assert response.status_code == 422
    assert "must be the number of a notification" in response.content.decode()


def test_it_shows_and_saves_preferences(owner_client, owner):
    page = owner_client.get(reverse("notifications:preferences")).content.decode()
    assert 'name="job_failed.email" aria-label="My video failed: email" checked' in page
    assert 'name="job_succeeded.email" aria-label="My video is ready: email">' in page
    response = owner_client.post(
        reverse("notifications:preferences"),
        {"job_succeeded.email": "on", "job_succeeded.portal": "on", "budget_80.portal": "on"},
    )
    assert response.status_code == 302
    saved = {p.kind: (p.email, p.portal) for p in NotificationPreference.objects.filter(user=owner)}
    assert len(saved) == len(Kind)
    assert saved["job_succeeded"] == (True, True)
    assert saved["budget_80"] == (False, True)
    assert saved["job_failed"] == (False, False)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("bogus.email", "on", "bogus.email: unknown kind of notification 'bogus'"),
        ("job_failed.sms", "on", "job_failed.sms: unknown channel 'sms'"),
        ("job_failed", "on", "job_failed: unknown kind of notification"),
        ("job_failed.email", "yes please", "a ticked box sends 'on'"),
    ],
)
def test_it_refuses_bad_preferences_clearly_and_saves_nothing(
    owner_client, owner, name, value, says
):
    response = owner_client.post(
        reverse("notifications:preferences"), {"job_succeeded.email": "on", name: value}
    )
    assert response.status_code == 422
    assert says in html.unescape(response.content.decode())
    assert not NotificationPreference.objects.filter(user=owner).exists()


def test_it_sends_the_anonymous_to_sign_in(client, db):
    for name in ("notifications:index", "notifications:preferences"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_shows_the_bell_and_the_list_on_a_phone(page, live_server, owner):
    from playwright.sync_api import expect

    from tests.test_browser import sign_in

    Notification.objects.create(
        user=owner,
        kind=Kind.JOB_FAILED,
        title="Your video “Diving” failed",
        link="/jobs/",
        body="The upstream refused the input image.",
    )
    Notification.objects.create(
        user=owner,
        kind=Kind.BUDGET_80,
        title="owner's team has spent 80 % of this month's budget",
        link="/usage/",
    )
    verified(owner)  # sign-in asks for a verified address
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    bell = page.get_by_role("link", name="Notifications, 2 unread")
    expect(bell).to_be_visible()
    box = bell.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    # The list fits the phone: nothing wider than the screen.
    width = page.evaluate("document.querySelector('#notifications').scrollWidth")
    assert width <= 390
    page.get_by_role("button", name=re.compile("failed")).click()
    expect(page).to_have_url(f"{live_server.url}/jobs/")
    expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()


def test_it_sends_an_email_whose_task_was_lost_from_the_sweep(
    make_job, owner, enqueued, django_capture_on_commit_callbacks
):
    from django_q.models import Schedule

    from notifications import tasks

    verified(owner)
    job = make_job()
    services.job_fail(job.id, code="1026", message="refused")  # no commit: the task is lost
    (notification,) = of(owner, Kind.JOB_FAILED)
    assert email_tasks(enqueued) == [] and notification.email_state == EmailState.PENDING
    assert tasks.sweep() == 0  # a moment old: its task may still be on its way

    Notification.objects.filter(pk=notification.pk).update(
        created_at=notification.created_at - timedelta(minutes=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep() == 1
    assert email_tasks(enqueued) == [str(notification.pk)]
    run_email_tasks(enqueued)
    assert len(mail.outbox) == 1
    assert tasks.sweep() == 0  # sent: nothing more to hand out
    assert Schedule.objects.filter(func="notifications.tasks.sweep", minutes=1).exists()
