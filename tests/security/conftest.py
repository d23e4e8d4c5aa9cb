"""Fixtures of the security suite: the two-team world (tests/security/world.py)."""

from __future__ import annotations

import pytest

from tests.security.world import World, build_world


@pytest.fixture
def world(diving, upstream, django_capture_on_commit_callbacks, enqueued) -> World:
    # `enqueued`: the world is made step by step (tests/apiclient.drive_to_success), so the
    # tasks its services enqueue are recorded rather than run a second time.
    return build_world(
        template=diving, upstream=upstream, capture=django_capture_on_commit_callbacks
    )


@pytest.fixture
def make_job_in(django_capture_on_commit_callbacks, enqueued):
    """Another (queued) job of one side of the world, on its shared key."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.security.world import Side, png_bytes
    from videos.services import MediaInput, job_create

    def make(side: Side, **overrides):
        kwargs = {
            "team": side.team,
            "user": side.owner,
            "template": side.job.template,
            "text_inputs": [],
            "media_inputs": [MediaInput(upload=SimpleUploadedFile("me.png", png_bytes()))],
            "key_id": side.key_shared.pk,
        }
        kwargs.update(overrides)
        with django_capture_on_commit_callbacks(execute=True):
            return job_create(**kwargs)

    return make


@pytest.fixture
def png_data_url() -> str:
    from tests.apiclient import data_url
    from tests.security.world import png_bytes

    return data_url(png_bytes())
