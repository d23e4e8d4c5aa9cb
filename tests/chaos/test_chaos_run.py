"""The standing chaos run: 300 video jobs over both providers, through two real clusters on
one Redis broker, against a sandbox that faults about 30 % of the calls, duplicates and
reorders its pushes, while a cluster is SIGKILLed mid-submit and mid-fetch and restarted.

Then the promises of the design are checked from the database and the sandbox's own record:
every job ended; none succeeded twice; no job made more than one upstream task unless its
timeline records a create that could not be found again; each job was settled once in the
ledger; every video is in storage with the sample's size. The figures the README can quote
are printed at the end (and are the constants and counts below).

PostgreSQL and the Redis broker only (`make test-services`): on the SQLite/ORM-broker leg
two clusters and the live server would fight over one SQLite file, and that leg is not what
production runs.
"""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import resolve
from django.utils import timezone
from PIL import Image

from billing.models import EntryKind, LedgerEntry, TeamPlan
from tests import support
from tests.chaos import cluster_settings
from tests.chaos.clusters import Cluster
from videos import services
from videos.inputs import attachment_id_from_token
from videos.models import (
    Attachment,
    AttachmentKind,
    EventKind,
    Job,
    JobEvent,
    JobStatus,
    VideoTemplate,
)

SERVICES_LEG = django_settings.DATABASES["default"]["ENGINE"] == (
    "django.db.backends.postgresql"
) and bool(django_settings.REDIS_URL)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not SERVICES_LEG,
        reason="the chaos run needs PostgreSQL and the Redis broker (two clusters at once); "
        "it runs in `make test-services`",
    ),
]

# --- the run's figures ---------------------------------------------------------------------
JOBS = 300  # in all, the bait jobs of the kills included
FAULT_RATE = 0.3  # share of faultable upstream calls the sandbox faults (sandbox.chaos)
SEED = 20260301  # the sandbox's chaos seed: the same calls get the same faults
# Each kill: the call it must land in, and how many seconds into the run its bait job is made.
# It takes down the cluster that is inside that call, whichever it is, and restarts it.
KILL_PLAN = (("submit", 4.0), ("fetch", 14.0), ("submit", 26.0), ("fetch", 38.0))
GENERATION_SECONDS = 1.0  # sandbox videos take this long, both flavours
# The sweeper is a django-q2 Schedule running once a minute; this test calls
# services.jobs_sweep() itself this often instead (a stand-in scheduler), so retries, due
# polls and the reconciler run at the pace of a run that must end in about a minute. It skips
# a beat while the broker still holds a backlog: a sweep hands out every due job again, and
# piled onto a queue not yet drained (which a once-a-minute sweep never meets) it only
# multiplies the duplicates the workers must wade through.
SWEEP_EVERY_SECONDS = 3.0
SWEEP_BACKLOG = 40
# Only a stop for a stuck run (not a timing check): runs take 115-150 s on 2 cores.
RUN_DEADLINE_SECONDS = 300.0
MINIMAX_KEYS = 3
USEAPI_KEYS = 8  # 10 videos at once each (max_jobs), as MiniMax's 3 keys take 40 each
DIVING = "392747428568649728"  # 1 image, in both catalogues

# What the clusters are told; cluster_settings.py shortens what the environment cannot.
CLUSTER_ENV = {
    "Q_WORKERS": "4",
    "JOB_POLL_FIRST_SECONDS": "1",
    "JOB_POLL_MAX_SECONDS": "2",
    # Long enough for a push naming a lost create to arrive and be adopted first.
    "JOB_AMBIGUOUS_GRACE_SECONDS": "4",
    # Faults never come more than twice in a row (chaos_max_run), kills add a few attempts.
    "JOB_SUBMIT_MAX_ATTEMPTS": "10",
    "JOB_POOL_RECHECK_SECONDS": "1",
    "JOB_FORCED_POLL_MIN_SECONDS": "1",
    "KEY_RATE_LIMIT_COOLOFF_SECONDS": "2",
    "UPSTREAM_CONNECT_TIMEOUT": "2",
    "UPSTREAM_READ_TIMEOUT": "5",
    # Below the sandbox's late answers (chaos_late_seconds): those become ambiguous creates.
    "UPSTREAM_CREATE_READ_TIMEOUT": "2",
    "LOG_FORMAT": "json",
    "PYTHONUNBUFFERED": "1",
    "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    "DJANGO_SETTINGS_MODULE": "tests.chaos.cluster_settings",
}
LATE_SECONDS = 3.0  # > UPSTREAM_CREATE_READ_TIMEOUT
SLOW_SECONDS = 4.0  # the bait jobs' slow upload / slow download: the kill's window

# Timeline messages (videos/services/submit.py) the checks read.
INTERRUPTED = "Submission was interrupted"
SUBMITTING = "Submitting to "
SENT_AGAIN = "shows no task from the earlier attempt; submitting again"


def png(n: int) -> bytes:
    """A small PNG of its own colour: each job's create is a different request."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), (n % 256, (n // 256) * 40 % 256, 90)).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Kill:
    kind: str  # "submit" or "fetch"
    job_id: Any
    cluster: str
    at: datetime
    lease_until: datetime | None = None  # the fetch lease the killed worker held


class Killer(threading.Thread):
    """Follows KILL_PLAN in a thread of its own (a sweep in the main loop can take seconds;
    the kill's window is a few): at each step a bait job (its own team, a key of its own with
    a slow call and no chaos) is made; once the sandbox shows a cluster inside that job's slow
    call, and the database agrees (the job is `submitting`, or holds a fetch lease), that
    cluster is SIGKILLed and started again. `lock` is held from the kill to the restart."""

    def __init__(self, clusters: list[Cluster], sandbox, bait_user, bait_keys, templates):
        super().__init__(name="chaos-killer", daemon=True)
        self.clusters = clusters
        self.sandbox = sandbox
        self.bait_user = bait_user
        self.bait_keys = bait_keys  # kind -> key
        self.templates = templates  # kind -> template
        self.lock = threading.Lock()
        self.started_at = time.monotonic()
        self.stopping = threading.Event()
        self.step = 0
        self.bait: Job | None = None
        self.armed_at = 0.0
        self.kills: list[Kill] = []
        self.bait_ids: list[Any] = []
        self.failure = ""

    @property
    def done(self) -> bool:
        return self.step >= len(KILL_PLAN) or bool(self.failure)

    def run(self) -> None:
        try:
            while not self.done and not self.stopping.wait(0.1):
                self.tick(time.monotonic() - self.started_at)
        except Exception as exc:  # reported by the main loop
            self.failure = repr(exc)
        finally:
            connection.close()

    def tick(self, elapsed: float) -> None:
        kind, at = KILL_PLAN[self.step]
        if self.bait is None:
            if elapsed >= at:
                self.bait = self._make_bait(kind)
                self.armed_at = time.monotonic()
            return
        if time.monotonic() - self.armed_at > 60:
            job = Job.objects.get(pk=self.bait.pk)
            self.failure = (
                f"kill {self.step + 1} ({kind}) never caught its bait job in its slow call: "
                f"{job.status} {job.fetching_until} {timeline(list(job.events.order_by('id')))}"
            )
            return
        path = self._slow_call(kind)
        if path is None:
            return
        for request in self.sandbox.in_flight():
            if not request["path"].startswith(path) or request["seconds"] < 0.3:
                continue
            if kind == "submit" and request["key_last4"] != self.bait_keys[kind].last4:
                continue
            owner = next((c for c in self.clusters if c.owns_port(request["client_port"])), None)
            if owner is None:
                continue  # the call just ended, or the socket moved on: look again
            job = Job.objects.get(pk=self.bait.pk)
            if kind == "submit" and job.status != JobStatus.SUBMITTING:
                continue
            if kind == "fetch" and not (job.fetching_until and job.fetching_until > timezone.now()):
                continue
            with self.lock:
                owner.kill()
                self.kills.append(
                    Kill(kind, job.pk, owner.name, timezone.now(), job.fetching_until)
                )
                owner.start()
            self.step += 1
            self.bait = None
            return

    def _slow_call(self, kind: str) -> str | None:
        assert self.bait is not None
        if kind == "submit":
            return "/v1/minimax/files"  # the upload before the create
        task_id = Job.objects.filter(pk=self.bait.pk).values_list("upstream_task_id", flat=True)
        return f"/_sandbox/files/video-{task_id[0]}.mp4" if task_id[0] else None

    def _make_bait(self, kind: str) -> Job:
        n = 10_000 + self.step
        job = services.job_create(
            team=self.bait_user.personal_team,
            user=self.bait_user,
            template=self.templates[kind],
            text_inputs=[],
            media_inputs=[services.MediaInput(upload=SimpleUploadedFile(f"{n}.png", png(n)))],
            key_id=self.bait_keys[kind].pk,
            reference=f"bait-{kind}-{self.step}",
        )
        self.bait_ids.append(job.pk)
        return job


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_every_promise_through_faults_kills_and_messy_callbacks(
    owner, team, catalogue, settings, monkeypatch, tmp_path, live_server, capsys
):
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    from sandbox.server import SandboxServer

    started = time.monotonic()
    # A queue of its own on the shared Redis: no other run's tasks, none of ours left behind.
    queue = f"chaos-{uuid.uuid4().hex[:10]}"
    monkeypatch.setattr(Conf, "PREFIX", queue)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", queue)
    sandbox = SandboxServer(
        port=0,
        generation_seconds=GENERATION_SECONDS,
        heartbeat_seconds=0.2,
        chaos=FAULT_RATE,
        chaos_seed=SEED,
        chaos_late_seconds=LATE_SECONDS,
        slow_file_seconds=SLOW_SECONDS,
        slow_upload_seconds=SLOW_SECONDS,
    )
    sandbox.start()
    clusters: list[Cluster] = []
    try:
        # This process runs the sweeper and the callback view (live_server): same settings.
        settings.MINIMAX_BASE_URL = settings.MINIMAX_CN_BASE_URL = sandbox.base_url
        settings.USEAPI_BASE_URL = sandbox.base_url
        settings.PUBLIC_BASE_URL = live_server.url  # callbacks on: pushes reach the portal
        settings.JOB_SUBMITTING_STUCK_SECONDS = cluster_settings.JOB_SUBMITTING_STUCK_SECONDS
        settings.JOB_SUBMIT_MAX_ATTEMPTS = int(CLUSTER_ENV["JOB_SUBMIT_MAX_ATTEMPTS"])
        settings.JOB_FORCED_POLL_MIN_SECONDS = int(CLUSTER_ENV["JOB_FORCED_POLL_MIN_SECONDS"])
        TeamPlan.objects.filter(pk=team.pk).update(
            video_limit_override=JOBS * 2,
            budget_cents_override=JOBS * 1000,
            max_concurrent_override=JOBS + 10,
        )
        for n in range(MINIMAX_KEYS):
            services.key_store(
                user=owner,
                label=f"MiniMax {n}",
                secret=f"sk-chaos-minimax-mm{n:02d}",
                max_concurrent=40,
                rpm=2000,
            )
        useapi_keys = [
            services.key_store(
                user=owner,
                label=f"useapi {n}",
                secret=f"user:{n + 1}-chaos-ua{n:02d}",
                provider="useapi",
                max_jobs=10,
            )
            for n in range(USEAPI_KEYS)
        ]
        services.templates_sync(provider="useapi", key_id=useapi_keys[0].pk)
        minimax_diving = VideoTemplate.objects.get(provider="minimax", template_id=DIVING)
        useapi_diving = VideoTemplate.objects.get(provider="useapi", template_id=DIVING)

        # The bait jobs' team and keys: slow on purpose, never faulted, used by nothing else.
        bait_user = User.objects.create_user("bait", "bait@example.com", "pw-bait-123")
        bait_keys = {
            "submit": services.key_store(
                user=bait_user,
                label="Slow upload",
                secret="user:90-bait-nochaos-slowupload-b001",
                provider="useapi",
                max_jobs=10,
            ),
            "fetch": services.key_store(
                user=bait_user, label="Slow file", secret="sk-bait-nochaos-slowfile-b002"
            ),
        }

        env = {
            **os.environ,
            **CLUSTER_ENV,
            "DATABASE_URL": support.test_database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "MINIMAX_BASE_URL": sandbox.base_url,
            "MINIMAX_CN_BASE_URL": sandbox.base_url,
            "USEAPI_BASE_URL": sandbox.base_url,
            "PUBLIC_BASE_URL": live_server.url,
            "Q_CLUSTER_NAME": queue,
        }
        clusters = [Cluster(name, env, tmp_path) for name in ("a", "b")]
        for cluster in clusters:
            cluster.start()
        support.wait_for(
            lambda: all(c.running() for c in clusters), timeout=60, what="both clusters to run"
        )

        killer = Killer(
            clusters,
            sandbox,
            bait_user,
            bait_keys,
            {"submit": useapi_diving, "fetch": minimax_diving},
        )
        ids, errors, made_in = run(owner, team, [minimax_diving, useapi_diving], clusters, killer)
        finished = time.monotonic()
        all_ids = ids + killer.bait_ids
        assert not errors, errors
        assert len(all_ids) == JOBS

        # Late duplicates and stale pushes are part of the test: let them all land, and the
        # tasks they cause run, before anything is counted.
        support.wait_for(
            lambda: sandbox.pending_pushes() == 0 and get_broker(queue).queue_size() == 0,
            timeout=30,
            what="the last pushes and tasks",
        )
        time.sleep(1.0)  # a task taken off the queue just now finishes
    finally:
        for cluster in clusters:
            cluster.stop()
        sandbox.stop()
        get_broker(queue).delete_queue()

    jobs = {job.pk: job for job in Job.objects.filter(pk__in=all_ids)}
    tasks = upstream_tasks(jobs, sandbox)
    try:
        check_invariants(jobs, tasks, sandbox)
        check_kills(killer.kills)
    finally:  # the figures, and the evidence of anything that broke, either way
        figures(
            jobs,
            tasks,
            sandbox,
            killer.kills,
            run_seconds=finished - started,
            made_in=made_in,
            capsys=capsys,
        )
    stats = sandbox.chaos_stats()
    assert len(killer.kills) == len(KILL_PLAN)
    assert stats["faults"] > 0
    assert stats["minimax.push.delivered_duplicate"] + stats["useapi.reply.delivered_duplicate"]
    assert stats["minimax.push.reorder"] + stats["useapi.reply.delivered_stale"]
    # Last, so every promise above is checked (and the figures printed) first: every fault
    # here is transient, so every job must end with its video (a key that refused it sends
    # it to another key; nothing the sandbox does may fail a job for good).
    failed = {
        str(job.pk): f"{job.error_code}: {job.error_message}"
        for job in jobs.values()
        if job.status != JobStatus.SUCCEEDED
    }
    assert not failed, failed


def run(owner, team, templates, clusters: list[Cluster], killer: Killer):
    """Make the regular jobs (in a thread, as web requests would) while sweeping, killing and
    watching; return once every job has ended."""
    ids: list[Any] = []
    errors: list[str] = []
    made: list[float] = []  # when the last regular job was made, seconds into the run
    regular = JOBS - len(KILL_PLAN)

    def create() -> None:
        try:
            for n in range(regular):
                job = services.job_create(
                    team=team,
                    user=owner,
                    template=templates[n % 2],  # half MiniMax, half useapi.net
                    text_inputs=[],
                    media_inputs=[
                        services.MediaInput(upload=SimpleUploadedFile(f"{n}.png", png(n)))
                    ],
                    reference=f"chaos-{n}",
                )
                ids.append(job.pk)
            made.append(time.monotonic() - start)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    from django_q.brokers import get_broker

    broker = get_broker()  # the test's queue (Conf.PREFIX is patched)
    creator = threading.Thread(target=create, name="chaos-creator")
    start = time.monotonic()
    creator.start()
    killer.start()
    next_sweep = start
    try:
        while True:
            elapsed = time.monotonic() - start
            if elapsed > RUN_DEADLINE_SECONDS:
                stuck = Job.objects.filter(pk__in=ids + killer.bait_ids).exclude(
                    status__in=JobStatus.terminal()
                )
                detail = [
                    (str(j.pk), j.status, j.next_attempt_at, j.upstream_data, j.key_id)
                    for j in stuck[:3]
                ]
                lines = [timeline(list(j.events.order_by("id"))) for j in stuck[:3]]
                tails = "\n".join(c.tail() for c in clusters)
                pytest.fail(
                    f"{stuck.count()} jobs unfinished after the deadline: {detail} {lines}\n{tails}"
                )
            if killer.failure:
                pytest.fail(killer.failure)
            with killer.lock:  # a cluster being killed and restarted has not crashed
                for cluster in clusters:
                    if (code := cluster.exited()) is not None:
                        pytest.fail(f"cluster {cluster.name} exited ({code}):\n{cluster.tail()}")
            if time.monotonic() >= next_sweep and broker.queue_size() < SWEEP_BACKLOG:
                services.jobs_sweep()
                next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
            if errors:
                break
            if not creator.is_alive() and killer.done:
                every = ids + killer.bait_ids
                ended = Job.objects.filter(pk__in=every, status__in=JobStatus.terminal())
                if ended.count() == len(every):
                    break
            time.sleep(0.2)
    finally:
        killer.stopping.set()
        creator.join()
        killer.join(timeout=30)
    return ids, errors, round(made[0], 1) if made else None


# --- the promises --------------------------------------------------------------------------


def check_invariants(jobs: dict[Any, Job], tasks: dict[Any, set[str]], sandbox) -> None:
    """The promises, job by job (`tasks`: the upstream tasks each job asked for)."""
    events: dict[Any, list[JobEvent]] = {pk: [] for pk in jobs}
    for event in JobEvent.objects.filter(job_id__in=jobs).order_by("id"):
        events[event.job_id].append(event)

    # Every job ended, exactly once.
    unfinished = [(str(pk), j.status) for pk, j in jobs.items() if not j.is_terminal]
    assert not unfinished, unfinished
    for pk, job in jobs.items():
        ends = JobStatus.terminal()
        terminal = [e for e in events[pk] if e.kind == EventKind.STATUS and e.status in ends]
        assert [e.status for e in terminal] == [job.status], (str(pk), timeline(events[pk]))

    # None succeeded twice: one result, one "Video stored"; nothing for the others.
    results = {pk: 0 for pk in jobs}
    for attachment in Attachment.objects.filter(job_id__in=jobs, kind=AttachmentKind.RESULT):
        results[attachment.job_id] += 1
    for pk, job in jobs.items():
        stored = [e for e in events[pk] if e.kind == EventKind.VIDEO]
        expected = 1 if job.status == JobStatus.SUCCEEDED else 0
        assert (results[pk], len(stored)) == (expected, expected), (
            str(pk),
            timeline(events[pk]),
        )

    # At most one upstream task per job, unless its timeline says a create was lost and could
    # not be found again, so it was sent again (no upstream here has idempotency: that is the
    # documented price). A create sent again after a push had named a task on that timeline
    # was not such a case: the task was known, and the second one is billed for nothing.
    for pk, job in jobs.items():
        unresolved = [
            e for e in events[pk] if SENT_AGAIN in e.message and not pushed(events[pk], e)
        ]
        assert len(tasks[pk]) <= 1 + len(unresolved), (str(pk), tasks[pk], timeline(events[pk]))
        if job.status == JobStatus.SUCCEEDED:
            assert job.upstream_task_id in tasks[pk], (str(pk), tasks[pk])

    # The ledger: one reserve, then one capture (succeeded) or one release (anything else).
    ledger: dict[Any, list[LedgerEntry]] = {pk: [] for pk in jobs}
    for entry in LedgerEntry.objects.filter(job_id__in=jobs):
        ledger[entry.job_id].append(entry)
    for pk, job in jobs.items():
        kinds = sorted(e.kind for e in ledger[pk])
        settled = EntryKind.CAPTURE if job.status == JobStatus.SUCCEEDED else EntryKind.RELEASE
        assert kinds == sorted([EntryKind.RESERVE, settled]), (str(pk), job.status, kinds)
        assert len({e.amount_cents for e in ledger[pk]}) == 1, (str(pk), ledger[pk])

    # Every video is in storage (S3 in this leg), whole.
    size = len(sandbox.video)
    for attachment in Attachment.objects.filter(job_id__in=jobs, kind=AttachmentKind.RESULT):
        assert attachment.bytes == size, (str(attachment.job_id), attachment.bytes)
        assert default_storage.size(attachment.file.name) == size, str(attachment.job_id)


def pushed(line: list[JobEvent], before: JobEvent) -> list[str]:
    """The task ids pushes named on a job's timeline before `before`."""
    return [
        e.data["task_id"]
        for e in line
        if e.id < before.id and e.kind == EventKind.CALLBACK and e.data.get("task_id")
    ]


def upstream_tasks(jobs: dict[Any, Job], sandbox) -> dict[Any, set[str]]:
    """Every task the sandbox made, by the job that asked for it: a useapi video names the job
    in its replyRef; a MiniMax task by its callback URL (the job's token) or, when it was sent
    without one, by its input image's URL (the job's attachment)."""
    by_token = {job.callback_token: pk for pk, job in jobs.items()}
    found: dict[Any, set[str]] = {pk: set() for pk in jobs}
    strangers = []
    for task in sandbox.tasks():
        pk = None
        if task["callback_url"]:
            pk = by_token.get(urlsplit(task["callback_url"]).path.rstrip("/").rsplit("/", 1)[1])
        for url in task["media_urls"]:
            token = resolve(urlsplit(url).path).kwargs["token"]
            attachment_id = attachment_id_from_token(token)
            job_id = Attachment.objects.filter(pk=attachment_id).values_list("job_id", flat=True)
            pk = pk or next(iter(job_id), None)
        if pk in found:
            found[pk].add(task["task_id"])
        else:
            strangers.append(task["task_id"])
    for video in sandbox.useapi_videos():
        ref = uuid.UUID(video["replyRef"]) if video["replyRef"] else None
        if ref in found:
            found[ref].add(video["videoId"])
        else:
            strangers.append(video["videoId"])
    assert not strangers, f"upstream tasks no job asked for: {strangers}"
    return found


def check_kills(kills: list[Kill]) -> None:
    """Each kill, proven from its bait job's timeline: a submit cut off leaves the job in
    `submitting` until the reconciler says it was interrupted (no answer, no error of that
    attempt in between); a fetch cut off leaves its lease behind, and the video is stored only
    after the lease ran out, with no download error on the way."""
    proven = {"submit": 0, "fetch": 0}
    for kill in kills:
        job = Job.objects.get(pk=kill.job_id)
        line = list(job.events.order_by("id"))
        if kill.kind == "submit":
            before = [i for i, e in enumerate(line) if e.message.startswith(SUBMITTING)]
            before = [i for i in before if line[i].created_at < kill.at]
            assert before, timeline(line)
            after = [
                e
                for e in line[before[-1] + 1 :]
                if e.kind in (EventKind.STATUS, EventKind.ERROR, EventKind.NOTE)
            ]
            assert after and after[0].message.startswith(INTERRUPTED), timeline(line)
            assert after[0].created_at > kill.at, timeline(line)
        else:
            assert kill.lease_until is not None
            stored = [e for e in line if e.kind == EventKind.VIDEO]
            assert len(stored) == 1 and stored[0].created_at >= kill.lease_until, timeline(line)
            assert not [e for e in line if e.message.startswith("Download failed")]
            assert job.fetch_attempts >= 2, (job.fetch_attempts, timeline(line))
        assert job.status == JobStatus.SUCCEEDED, timeline(line)
        proven[kill.kind] += 1
    assert proven["submit"] >= 1 and proven["fetch"] >= 1, proven


def latencies(jobs) -> str:
    took = sorted((j.finished_at - j.created_at).total_seconds() for j in jobs.values())
    return f"{took[len(took) // 2]:.0f}/{took[int(len(took) * 0.95)]:.0f}/{took[-1]:.0f}"


def timeline(line: list[JobEvent]) -> list[str]:
    return [f"{e.created_at:%H:%M:%S.%f} {e.kind} {e.status} {e.message}" for e in line]


def figures(jobs, tasks, sandbox, kills: list[Kill], *, run_seconds: float, made_in, capsys):
    """The figures the README can quote, printed past pytest's capture."""
    stats = sandbox.chaos_stats()
    statuses: dict[str, int] = {}
    for job in jobs.values():
        statuses[job.status] = statuses.get(job.status, 0) + 1
    duplicates = stats.get("minimax.push.delivered_duplicate", 0) + stats.get(
        "useapi.reply.delivered_duplicate", 0
    )
    reordered = stats.get("minimax.push.reorder", 0) + stats.get("useapi.reply.delivered_stale", 0)
    resent = JobEvent.objects.filter(job_id__in=jobs, message__contains=SENT_AGAIN).count()
    resent_known = 0
    for job in jobs.values():
        line = list(job.events.order_by("id"))
        resent_known += sum(1 for e in line if SENT_AGAIN in e.message and pushed(line, e))
    adopted = JobEvent.objects.filter(
        job_id__in=jobs, message__startswith="Found the task the earlier attempt made"
    ).count()
    faults = {k: v for k, v in stats.items() if "." in k and not k.endswith(".calls")}
    failures: dict[str, list[Any]] = {}
    for job in jobs.values():
        if job.status == JobStatus.FAILED:
            failures.setdefault(job.error_code, []).append(job.pk)
    extra_tasks = sum(max(0, len(found) - 1) for found in tasks.values())
    summary = {
        "jobs": len(jobs),
        "by status": statuses,
        "fault rate": FAULT_RATE,
        "faultable calls": stats["calls"],
        "faults injected": stats["faults"],
        "observed fault share": round(stats["faults"] / max(stats["calls"], 1), 3),
        "kills": len(kills),
        "kills (what each landed in, on which cluster)": [f"{k.kind}@{k.cluster}" for k in kills],
        "duplicate pushes": duplicates,
        "reordered pushes": reordered,
        "lost creates found again": adopted,
        "lost creates not found upstream, sent again": resent,
        "... of which a push had named the task": resent_known,
        "second upstream tasks (billed twice upstream)": extra_tasks,
        "failed, by code": {code: len(found) for code, found in failures.items()},
        "seconds, test start to last job ended": round(run_seconds, 1),
        "jobs made in (s)": made_in,
        "job seconds, queued to ended (p50/p95/max)": latencies(jobs),
        "faults by kind": faults,
    }
    with capsys.disabled():
        print("\nchaos run:")
        for name, value in summary.items():
            print(f"  {name}: {value}")
        twice = next((pk for pk, found in tasks.items() if len(found) > 1), None)
        if twice is not None:
            print(f"  e.g. two upstream tasks: {twice} {sorted(tasks[twice])}")
            for line in timeline(list(jobs[twice].events.order_by("id"))):
                print(f"    {line}")
        for code, found in failures.items():
            example = jobs[found[0]]
            print(f"  e.g. {code}: {example.pk} {example.error_message}")
            for line in timeline(list(example.events.order_by("id"))):
                print(f"    {line}")
