"""The team key pool: jobs get a key when they start, within each key's capacity and rate;
they wait in the queue (with their place and an estimate) instead of being refused; a key
that refuses hands its job to the next key; keys are shared with the team, never shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import KeyCooling, KeyStatus, Membership, ProviderKey, Role
from tests.conftest import make_image
from videos import services
from videos.errors import JobInputError, NoUsableKeyError
from videos.models import EventKind, Job, JobStatus, KeyEvent
from videos.presenters import job_status_payload
from videos.selectors import job_queue_spot, key_loads


@pytest.fixture
def pooled(team, owner, diving, django_capture_on_commit_callbacks, enqueued):
    """A queued Diving job of `user` in the owner's team, its key left to the pool."""

    def make(user=None, **overrides) -> Job:
        kwargs = {
            "team": team,
            "user": user or owner,
            "template": diving,
            "text_inputs": [],
            "media_inputs": [
                services.MediaInput(upload=SimpleUploadedFile("me.png", make_image()))
            ],
        }
        kwargs.update(overrides)
        with django_capture_on_commit_callbacks(execute=True):
            return services.job_create(**kwargs)

    return make


def submit(job) -> Job:
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    return job


def store(owner, label, secret, **options):
    return services.key_store(user=owner, label=label, secret=secret, **options)


# --- Choosing a key ----------------------------------------------------------------------------


def test_it_runs_each_job_on_the_least_loaded_key(owner, pooled, sandbox):
    a = store(owner, "A", "sk-pool-a-gen30", max_concurrent=2)
    b = store(owner, "B", "sk-pool-b-gen30", max_concurrent=2)
    used = [submit(pooled()).key for _ in range(4)]
    assert sorted(k.label for k in used) == ["A", "A", "B", "B"]
    loads = key_loads([a, b])
    assert (loads[a.pk].in_flight, loads[b.pk].in_flight) == (2, 2)
    assert {t["key_last4"] for t in sandbox.tasks()} == {a.last4, b.last4}


def test_it_queues_a_job_when_every_key_is_busy_and_starts_it_when_one_frees(
    owner, pooled, sandbox, enqueued, django_capture_on_commit_callbacks
):
    store(owner, "Only", "sk-pool-only-gen30", max_concurrent=1)
    first = submit(pooled())
    second = submit(pooled())
    assert first.status == JobStatus.PROCESSING
    assert second.status == JobStatus.QUEUED and second.key is None
    assert second.events.filter(kind=EventKind.NOTE, message__startswith="Waiting").count() == 1
    assert second.next_attempt_at > timezone.now()
    submit(second)  # looks again before anything freed: still waiting, said once
    assert second.events.filter(message__startswith="Waiting").count() == 1
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.job_fail(first.id, code="x", message="done")
    # The freed slot wakes the waiting job at once.
    assert ("videos.tasks.submit_job", (str(second.id),), {}) in enqueued
    assert submit(second).status == JobStatus.PROCESSING


def test_it_keeps_to_a_keys_creates_per_minute(owner, pooled, sandbox):
    store(owner, "Slow", "sk-pool-slow-gen30", max_concurrent=10, rpm=2)
    jobs = [submit(pooled()) for _ in range(3)]
    assert [j.status for j in jobs] == ["processing", "processing", "queued"]
    window_end = ProviderKey.objects.get().rpm_window_start + timedelta(minutes=1)
    assert abs((jobs[2].next_attempt_at - window_end).total_seconds()) < 1


def test_it_pins_a_job_to_the_key_its_caller_chose(owner, pooled, sandbox):
    store(owner, "A", "sk-pool-a-gen30")
    b = store(owner, "B", "sk-pool-b-gen30")
    jobs = [submit(pooled(key_id=b.pk)) for _ in range(3)]
    assert {j.key for j in jobs} == {b}


def test_it_refuses_a_job_when_no_key_could_ever_run_it(owner, pooled):
    with pytest.raises(NoUsableKeyError):
        pooled()
    key = store(owner, "A", "sk-pool-a")
    job = pooled()
    ProviderKey.objects.filter(pk=key.pk).update(status=KeyStatus.INVALID)
    assert submit(job).status == JobStatus.FAILED and job.error_code == "no_usable_key"


# --- Failover ----------------------------------------------------------------------------------


def test_it_moves_a_rate_limited_job_to_the_next_key_without_a_second_task(
    owner, pooled, sandbox, enqueued, django_capture_on_commit_callbacks
):
    limited = store(owner, "A-limited", "sk-pool-err1002-aaaa")
    fine = store(owner, "B-fine", "sk-pool-bbbb-gen30")
    ProviderKey.objects.filter(pk=fine.pk).update(last_used_at=timezone.now())  # A goes first
    job = pooled()
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(job)
    assert job.status == JobStatus.QUEUED and job.key is None  # refused: nothing was made
    limited.refresh_from_db()
    assert limited.cooling_reason == KeyCooling.RATE_LIMITED and limited.cooling_until
    assert ("videos.tasks.submit_job", (str(job.id),), {}) in enqueued  # at once
    job = submit(job)
    assert job.status == JobStatus.PROCESSING and job.key == fine
    (task,) = sandbox.tasks()  # one upstream task, on the key that took it
    assert task["key_last4"] == fine.last4
    assert KeyEvent.objects.filter(key=limited, kind="rate_limited").count() == 1


def test_it_rests_a_key_out_of_balance_and_tells_its_owner(owner, owner_client, pooled, sandbox):
    broke = store(owner, "Broke", "sk-pool-err1008-cccc")
    store(owner, "Funded", "sk-pool-dddd-gen30")
    ProviderKey.objects.exclude(pk=broke.pk).update(last_used_at=timezone.now())
    job = submit(submit(pooled()))
    assert job.status == JobStatus.PROCESSING and job.key.label == "Funded"
    broke.refresh_from_db()
    assert broke.cooling_reason == KeyCooling.OUT_OF_BALANCE and broke.status == KeyStatus.ACTIVE
    page = owner_client.get(reverse("videos:gallery")).content.decode()
    assert "Broke" in page and "out of balance" in page  # the banner, on every page


def test_it_marks_a_rejected_key_invalid_and_runs_the_job_on_another(
    owner, owner_client, pooled, sandbox
):
    bad = store(owner, "Bad", "sk-pool-invalid-eeee")
    store(owner, "Good", "sk-pool-ffff-gen30")
    ProviderKey.objects.exclude(pk=bad.pk).update(last_used_at=timezone.now())
    job = submit(submit(pooled()))
    assert job.status == JobStatus.PROCESSING and job.key.label == "Good"
    bad.refresh_from_db()
    assert bad.status == KeyStatus.INVALID
    page = owner_client.get(reverse("videos:keys")).content.decode()
    assert "was rejected by the upstream" in page


def test_it_does_not_move_a_pinned_job_off_its_key(owner, pooled, sandbox):
    bad = store(owner, "Bad", "sk-pool-invalid-gggg")
    store(owner, "Good", "sk-pool-hhhh")
    job = submit(pooled(key_id=bad.pk))
    assert job.status == JobStatus.FAILED and job.key == bad


# --- Sharing with the team --------------------------------------------------------------------


def work_in(client, user, team) -> None:
    client.force_login(user)
    session = client.session
    session["team_id"] = team.pk  # the team pill: pages show this team
    session.save()


def test_it_lets_a_teammate_use_a_shared_key_without_seeing_it(
    owner, teammate, team, pooled, sandbox, client
):
    secret = "sk-pool-shared-secret-9999-gen30"
    key = store(owner, "Team key", secret)
    with pytest.raises(NoUsableKeyError):
        pooled(user=teammate)  # not shared yet: the teammate has no key
    services.key_update(key=key, by=owner, team=team, shared=True)
    job = submit(pooled(user=teammate))
    assert job.status == JobStatus.PROCESSING and job.key == key
    work_in(client, teammate, team)
    for url in (
        reverse("videos:keys"),
        reverse("videos:job_detail", args=[job.id]),
        reverse("videos:job_status", args=[job.id]),
        reverse("accounts:team_detail", args=[team.pk]),
    ):
        body = client.get(url).content.decode()
        assert secret not in body and secret[:-4] not in body, url
    assert "Team key" in client.get(reverse("videos:keys")).content.decode()


def test_it_keeps_shared_keys_from_outsiders(owner, team, outsider, sandbox, client, diving):
    key = store(owner, "Team key", "sk-pool-shared-2222", share_with=team)
    assert key.shared_with == team
    with pytest.raises(JobInputError):
        services.job_create(
            team=outsider.personal_team,
            user=outsider,
            template=diving,
            text_inputs=[],
            media_inputs=[services.MediaInput(upload=SimpleUploadedFile("a.png", make_image()))],
            key_id=key.pk,
        )
    client.force_login(outsider)
    page = client.get(reverse("videos:keys")).content.decode()
    assert "Team key" not in page and "2222" not in page
    share = client.post(reverse("videos:key_share", args=[key.pk]), {"shared": "0"})
    assert share.status_code == 404
    key.refresh_from_db()
    assert key.shared_with == team


def test_it_stops_new_jobs_using_a_key_once_unshared(owner, teammate, team, pooled, sandbox):
    key = store(owner, "Team key", "sk-pool-shared-3333-gen30", share_with=team)
    queued = pooled(user=teammate)
    services.key_update(key=key, by=owner, team=team, shared=False)
    assert submit(queued).status == JobStatus.FAILED  # no key of the teammate's any more
    with pytest.raises(NoUsableKeyError):
        pooled(user=teammate)


def test_it_lets_team_admins_unshare_but_only_the_owner_share(owner, teammate, team, client):
    key = store(owner, "Team key", "sk-pool-shared-4444", share_with=team)
    work_in(client, teammate, team)
    url = reverse("videos:key_share", args=[key.pk])
    assert client.post(url, {"shared": "0"}).status_code == 403  # a member
    Membership.objects.filter(user=teammate).update(role=Role.ADMIN)
    assert client.post(url, {"shared": "0"}).status_code == 302  # an admin may unshare
    key.refresh_from_db()
    assert key.shared_with is None
    assert client.post(url, {"shared": "1"}).status_code == 404  # not shared: not theirs to see


# --- Health -------------------------------------------------------------------------------------


def test_it_checks_a_key_when_it_is_saved_and_on_demand(
    owner, owner_client, sandbox, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        good = store(owner, "Good", "sk-pool-good-5555")
    assert ("videos.tasks.check_key", (str(good.pk),), {}) in enqueued
    assert services.key_check(key=good) is True
    good.refresh_from_db()
    assert good.last_check_ok is True and good.last_checked_at
    bad = store(owner, "Bad", "sk-pool-invalid-6666")
    response = owner_client.post(reverse("videos:key_test", args=[bad.pk]), follow=True)
    assert "did not pass" in response.content.decode()
    bad.refresh_from_db()
    assert bad.status == KeyStatus.INVALID and bad.last_check_ok is False
    assert sandbox.tasks() == []  # the checks made no task


# --- Queue position and estimate -------------------------------------------------------------


def test_it_shows_the_queue_position_and_estimate_as_jobs_finish(
    owner, owner_client, pooled, sandbox, django_capture_on_commit_callbacks
):
    store(owner, "Only", "sk-pool-only-7777-gen30", max_concurrent=1)
    # Recent runs took about 100 s each: the estimate is built from them.
    done = pooled()
    now = timezone.now()
    Job.objects.filter(pk=done.pk).update(
        status=JobStatus.SUCCEEDED,
        submitted_at=now - timedelta(seconds=100),
        finished_at=now,
    )
    running = submit(pooled())
    waiting = [submit(pooled()) for _ in range(2)]
    spots = [job_queue_spot(job) for job in waiting]
    assert [s.position for s in spots] == [1, 2]
    assert spots[0].eta_seconds == 100 and spots[1].eta_seconds == 200
    page = owner_client.get(reverse("videos:job_detail", args=[waiting[1].id])).content.decode()
    assert "Number 2 in your team&#x27;s queue" in page or "Number 2 in your team's queue" in page
    with django_capture_on_commit_callbacks(execute=True):
        services.job_fail(running.id, code="x", message="gone")
    status = job_status_payload(waiting[1])
    assert status["queue"]["position"] == 2  # the first waiting job has not started yet
    submit(waiting[0])
    status = job_status_payload(waiting[1])
    assert status["queue"] == {
        "position": 1,
        "eta_s": 100,
        "text": "Number 1 in your team's queue; starts in about 2 min.",
    }


def test_it_says_which_key_ran_a_job(owner, pooled, sandbox, api):
    store(owner, "Main pool key", "sk-pool-main-8888-gen30")
    job = submit(pooled())
    data = api.get(f"/videos/{job.id}").json()
    assert data["key"] == {"label": "Main pool key", "last4": "en30"}
    assert data["queue"] is None
