"""Jobs made before the providers migration (videos 0005) finish after it: their MiniMax
columns are carried into the neutral ones, and the life cycle picks them up as it was."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.fakes import MP4, FakeResponse, ok

BEFORE = [("videos", "0004_job_fetching_until"), ("accounts", "0002_invitation")]
VIDEO_URL = "https://cdn.example/out/old.mp4"


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_the_migration():
    """The schema as it was before videos 0005; the latest schema again afterwards, always."""
    old = migrate(BEFORE)
    try:
        yield old
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_finishes_jobs_made_before_the_migration(upstream, before_the_migration):
    old = before_the_migration
    User = old.get_model("auth", "User")
    Team = old.get_model("accounts", "Team")
    ProviderKey = old.get_model("accounts", "ProviderKey")
    Template = old.get_model("videos", "VideoTemplate")
    OldJob = old.get_model("videos", "Job")
    from accounts import vault

    user = User.objects.create(username="old-timer")
    team = Team.objects.create(name="Old team")
    key = ProviderKey.objects.create(
        user=user,
        label="old",
        secret_encrypted=vault.encrypt("sk-old-secret-1234"),
        last4="1234",
    )
    # An earlier transactional test may have flushed the seeded catalogue.
    template, _ = Template.objects.get_or_create(
        provider="minimax",
        region="global",
        template_id="392747428568649728",
        defaults={"name": "Diving", "media_inputs": 1, "price_cents": 40},
    )
    now = timezone.now()
    common = {"team": team, "created_by": user, "template": template, "key": key}
    ready = OldJob.objects.create(
        **common,
        status="processing",
        upstream_task_id="T-old-1",
        upstream_status="Success",
        upstream_video_url=VIDEO_URL,
        submitted_at=now,
        next_attempt_at=now,
    )
    running = OldJob.objects.create(
        **common,
        status="processing",
        upstream_task_id="T-old-2",
        upstream_status="Processing",
        submitted_at=now,
        next_attempt_at=now,
    )
    by_file = OldJob.objects.create(
        **common,
        status="processing",
        upstream_task_id="T-old-3",
        upstream_status="success",
        upstream_file_id="F-old",
        submitted_at=now,
        next_attempt_at=now,
    )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from videos import services
    from videos.models import Job, JobStatus

    carried = Job.objects.get(pk=ready.pk)
    assert carried.provider == "minimax" and carried.upstream_state == "succeeded"
    assert carried.upstream_data == {"video_url": VIDEO_URL}
    assert Job.objects.get(pk=by_file.pk).upstream_data == {"file_id": "F-old"}
    assert Job.objects.get(pk=running.pk).upstream_state == "running"

    upstream.on("/out/old.mp4", FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    services.job_fetch(job_id=ready.pk)
    assert Job.objects.get(pk=ready.pk).status == JobStatus.SUCCEEDED

    upstream.on(
        "/v1/query/video_template_generation",
        ok(task_id="T-old-2", status="Success", video_url=VIDEO_URL),
    )
    services.job_poll(job_id=running.pk, force=True)
    services.job_fetch(job_id=running.pk)
    finished = Job.objects.get(pk=running.pk)
    assert finished.status == JobStatus.SUCCEEDED
    with finished.result.file.open("rb") as fh:
        assert fh.read() == MP4
