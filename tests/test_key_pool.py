"""The team key pool: jobs get a key when they start, within each key's capacity and rate;
they wait in the queue (with their place and an estimate) instead of being refused; a key
that refuses hands its job to the next key; keys are shared with the team, never shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    # It looks again when the first create leaves the last minute, or sooner (the recheck).
    first_create = ProviderKey.objects.get().recent_creates[0]
    window_end = datetime.fromtimestamp(first_create, tz=UTC) + timedelta(minutes=1)
    assert timezone.now() < jobs[2].next_attempt_at <= window_end


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


# --- Found by review: each test shows one defect of the first pool --------------------------


def left_ambiguous(job, key) -> Job:
    """The job's create on `key` went out and its answer was lost (queued, due now)."""
    Job.objects.filter(pk=job.pk).update(
        key=key,
        status=JobStatus.QUEUED,
        next_attempt_at=timezone.now(),
        submit_attempts=1,
        upstream_data={"ambiguous_since": timezone.now().isoformat()},
    )
    job.refresh_from_db()
    return job


def refuse_lookups(monkeypatch, error) -> None:
    from videos.providers import minimax

    def find_lost(*args, **kwargs):
        raise error

    monkeypatch.setattr(minimax.provider, "find_lost", find_lost)


def test_it_never_moves_a_job_whose_create_may_exist_to_another_key(
    owner, pooled, sandbox, monkeypatch
):
    from videos.providers.errors import RateLimited

    a = store(owner, "A", "sk-pool-amb-a-gen30")
    store(owner, "B", "sk-pool-amb-b-gen30")
    job = left_ambiguous(pooled(), a)
    refuse_lookups(monkeypatch, RateLimited("1002", "rate limit exceeded", retry_after=30))
    job = submit(job)
    # The lookup was refused: the lost create may still exist on A, so the job stays there.
    assert job.status == JobStatus.QUEUED and job.key == a
    assert job.upstream_data.get("ambiguous_since")
    assert sandbox.tasks() == []  # nothing was created on B


def test_it_says_why_a_job_whose_key_was_rejected_during_the_lookup_ends(
    owner, pooled, sandbox, monkeypatch
):
    from videos.providers.errors import CredentialsRejected

    a = store(owner, "A", "sk-pool-amb-c-gen30")
    store(owner, "B", "sk-pool-amb-d-gen30")
    job = left_ambiguous(pooled(), a)
    refuse_lookups(monkeypatch, CredentialsRejected("2049", "invalid api key"))
    job = submit(submit(job))
    assert job.status == JobStatus.FAILED and job.key == a
    assert "may have made" in job.error_message
    assert sandbox.tasks() == []
    assert KeyEvent.objects.filter(key=a, kind="rejected").count() == 1


def test_it_counts_a_job_whose_create_may_exist_in_its_keys_load(owner, pooled, sandbox):
    only = store(owner, "Only", "sk-pool-amb-e-gen30", max_concurrent=1)
    lost = left_ambiguous(pooled(), only)
    newer = submit(pooled())
    assert newer.status == JobStatus.QUEUED  # the lost create may be running on the one slot
    assert key_loads([only])[only.pk].in_flight == 1
    assert submit(lost).status == JobStatus.PROCESSING  # its own slot: it goes again


def test_it_wakes_the_queue_only_after_the_finish_commits(
    owner, pooled, sandbox, django_capture_on_commit_callbacks
):
    # Waking inside the finishing transaction locked the woken jobs while the ledger's rows
    # were held: two finishes could deadlock on PostgreSQL.
    store(owner, "Only", "sk-pool-wake-gen30", max_concurrent=1)
    running = submit(pooled())
    waiting = submit(pooled())
    before = waiting.next_attempt_at
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.job_fail(running.id, code="x", message="done")
    waiting.refresh_from_db()
    assert waiting.next_attempt_at == before
    for callback in callbacks:
        callback()
    waiting.refresh_from_db()
    assert waiting.next_attempt_at <= timezone.now()


def test_it_stops_a_queued_job_pinned_to_a_key_once_unshared(
    owner, teammate, team, pooled, sandbox
):
    key = store(owner, "Team key", "sk-pool-pin-unshare-gen30", share_with=team)
    queued = pooled(user=teammate, key_id=key.pk)
    services.key_update(key=key, by=owner, team=team, shared=False)
    job = submit(queued)
    assert job.status == JobStatus.FAILED and sandbox.tasks() == []


def test_it_looks_again_within_the_recheck_even_when_every_key_rests(owner, pooled, settings):
    key = store(owner, "Resting", "sk-pool-rest-gen30")
    ProviderKey.objects.filter(pk=key.pk).update(
        cooling_until=timezone.now() + timedelta(hours=1), cooling_reason=KeyCooling.RATE_LIMITED
    )
    job = submit(pooled())
    limit = timezone.now() + timedelta(seconds=settings.JOB_POOL_RECHECK_SECONDS)
    assert job.status == JobStatus.QUEUED and job.next_attempt_at <= limit


def test_it_wakes_waiting_jobs_when_a_key_is_added(
    owner, pooled, sandbox, enqueued, django_capture_on_commit_callbacks
):
    store(owner, "Busy", "sk-pool-busy-gen30", max_concurrent=1)
    submit(pooled())
    waiting = submit(pooled())
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        store(owner, "More", "sk-pool-more-gen30")
    assert ("videos.tasks.submit_job", (str(waiting.id),), {}) in enqueued


def test_it_wakes_the_key_owners_other_teams_when_a_slot_frees(
    owner, team, pooled, sandbox, enqueued, django_capture_on_commit_callbacks
):
    from accounts.services import team_create

    other = team_create(name="Studio", owner=owner)
    store(owner, "Mine", "sk-pool-mine-gen30", max_concurrent=1)
    running = submit(pooled(team=other))
    waiting = submit(pooled())  # the owner's personal team, on the same key
    assert waiting.status == JobStatus.QUEUED
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.job_fail(running.id, code="x", message="done")
    assert ("videos.tasks.submit_job", (str(waiting.id),), {}) in enqueued


def test_it_gives_up_failing_over_after_the_longest_wait(owner, pooled, sandbox, settings):
    store(owner, "Limited", "sk-pool-err1002-iiii")
    job = pooled()
    Job.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.JOB_RATE_LIMIT_MAX_WAIT_SECONDS + 60)
    )
    job = submit(job)
    assert job.status == JobStatus.FAILED and "Gave up" in job.error_message


def test_it_starts_the_teams_jobs_in_the_order_they_were_made(
    owner, pooled, sandbox, django_capture_on_commit_callbacks
):
    store(owner, "Only", "sk-pool-fifo-gen30", max_concurrent=1)
    running = submit(pooled())
    older = submit(pooled())
    assert older.status == JobStatus.QUEUED
    with django_capture_on_commit_callbacks(execute=True):
        services.job_fail(running.id, code="x", message="done")  # wakes the older job
    newer = submit(pooled())  # made after the slot freed, before the older job looked again
    assert newer.status == JobStatus.QUEUED
    assert submit(older).status == JobStatus.PROCESSING


def test_it_lists_queued_jobs_without_a_query_per_job(
    owner, pooled, sandbox, api, django_assert_max_num_queries
):
    store(owner, "Only", "sk-pool-list-gen30", max_concurrent=1)
    for _ in range(12):
        submit(pooled())
    with django_assert_max_num_queries(30):
        items = api.get("/videos?limit=50").json()["items"]
    assert sorted(i["queue"]["position"] for i in items if i["queue"]) == list(range(1, 12))


def test_it_keeps_to_the_rate_over_any_minute_not_per_clock_window(
    owner, pooled, sandbox, monkeypatch
):
    store(owner, "Slow", "sk-pool-sliding-gen30", max_concurrent=10, rpm=2)
    start = timezone.now()

    def at(seconds):
        monkeypatch.setattr(timezone, "now", lambda: start + timedelta(seconds=seconds))

    at(0)
    assert submit(pooled()).status == JobStatus.PROCESSING
    at(59)
    assert submit(pooled()).status == JobStatus.PROCESSING
    at(61)  # the create at 0 s left the last minute; the one at 59 s did not
    assert submit(pooled()).status == JobStatus.PROCESSING
    assert submit(pooled()).status == JobStatus.QUEUED


def test_it_lets_only_a_keys_owner_test_it(owner, teammate, team, client, sandbox):
    key = store(owner, "Team key", "sk-pool-test-owner-gen30", share_with=team)
    work_in(client, teammate, team)
    response = client.post(reverse("videos:key_test", args=[key.pk]), follow=True)
    assert "only the key&#x27;s owner can test it" in response.content.decode()
    assert not KeyEvent.objects.filter(key=key).exists()


def test_it_brings_a_key_that_passes_a_test_back_into_use(owner, sandbox):
    key = store(owner, "Back", "sk-pool-back-gen30")
    ProviderKey.objects.filter(pk=key.pk).update(status=KeyStatus.INVALID, status_reason="old")
    assert services.key_check(key=key) is True
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE and key.status_reason == ""


def test_it_records_a_pinned_keys_rejection_once(owner, pooled, sandbox):
    bad = store(owner, "Bad", "sk-pool-invalid-jjjj")
    submit(pooled(key_id=bad.pk))
    assert KeyEvent.objects.filter(key=bad, kind="rejected").count() == 1


def test_it_deletes_a_key_a_queued_job_only_tried(owner, pooled, sandbox):
    # A job that tried the key and went back to wait for the pool does not need that key.
    tried = store(owner, "Tried", "sk-pool-tried-gen30")
    store(owner, "Other", "sk-pool-other-gen30")
    job = pooled()
    Job.objects.filter(pk=job.pk).update(key=tried, status=JobStatus.QUEUED)
    services.key_delete(key=tried)
    job.refresh_from_db()
    assert job.key is None and job.status == JobStatus.QUEUED


def test_it_charts_only_the_teams_own_jobs_on_a_shared_key(owner, pooled, sandbox):
    from accounts.services import team_create
    from videos.selectors import jobs_per_key_per_day

    studio = team_create(name="Studio", owner=owner)
    key = store(owner, "Team key", "sk-pool-chart-gen30", share_with=studio)
    submit(pooled(team=studio))  # the team's
    submit(pooled())  # the owner's personal team's, on the same key
    _, counts = jobs_per_key_per_day(keys=[key], team=studio)
    assert sum(counts[key.pk]) == 1


def test_it_shows_admins_each_keys_load_and_a_chart_of_its_jobs(
    admin_client, owner, pooled, sandbox
):
    store(owner, "Charted", "sk-pool-admin-gen30", max_concurrent=3)
    submit(pooled())
    page = admin_client.get("/admin/accounts/providerkey/").content.decode()
    assert "1 / 3" in page  # in flight / capacity
    assert "Jobs started per key per day" in page and "<svg" in page and "Charted (…en30)" in page
