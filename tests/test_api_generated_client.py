"""A client generated from the live OpenAPI document, driven as an integrator would: strict
mode (an undocumented answer raises), typed models, the video downloaded as a file."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.apiclient import data_url
from tests.conftest import DIVING, make_image
from tests.support import qcluster, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SAMPLE = Path(__file__).resolve().parent.parent / "sandbox" / "assets" / "sample.mp4"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "portal_api_client"


@pytest.fixture
def generated(live_server, tmp_path):
    """The client package, generated now from what the server serves (no network needed)."""
    document = httpx.get(f"{live_server.url}/api/v1/openapi.json").json()
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    # No post hooks: the generator would run ruff over its output, which changes nothing here.
    (tmp_path / "config.json").write_text(json.dumps({"post_hooks": []}))
    run = subprocess.run(
        [
            str(GENERATOR), "generate", "--path", "openapi.json", "--config", "config.json",
            "--meta", "none", "--output-path", PACKAGE, "--fail-on-warning",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_it_drives_a_generated_client_from_create_to_download(
    generated, live_server, sandbox, settings, owner, key, catalogue, api_token
):
    settings.PUBLIC_BASE_URL = live_server.url  # callbacks from the sandbox: no sweep wait
    from portal_api_client import AuthenticatedClient
    from portal_api_client.api.templates import templates_list
    from portal_api_client.api.videos import videos_create, videos_download, videos_get
    from portal_api_client.models import (
        ErrorOut,
        JobOut,
        JobStatus,
        MediaInputIn,
        ProviderSlug,
        VideoIn,
    )

    client = AuthenticatedClient(
        base_url=live_server.url, token=api_token, raise_on_unexpected_status=True
    )
    templates = templates_list.sync(client=client)
    diving = next(t for t in templates.items if t.template_id == DIVING)
    assert diving.provider is ProviderSlug.MINIMAX and diving.media_inputs == 1

    body = VideoIn(
        template_id=DIVING,
        media_inputs=[MediaInputIn(value=data_url(make_image(800, 600, "JPEG"), "image/jpeg"))],
        reference="generated-client",
    )
    job = videos_create.sync(client=client, body=body, idempotency_key="generated-1")
    assert isinstance(job, JobOut) and job.status is JobStatus.QUEUED

    with qcluster():

        def succeeded():
            seen = videos_get.sync(video_id=job.id, client=client)
            return seen.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) and seen

        finished = wait_for(succeeded, what="the job to finish")
    assert finished.status is JobStatus.SUCCEEDED
    assert finished.video.bytes_ == SAMPLE.stat().st_size  # `bytes`, renamed off the builtin

    file = videos_download.sync(video_id=job.id, client=client)
    assert file.payload.read() == SAMPLE.read_bytes()

    # A documented refusal is a typed answer, not an exception.
    missing = videos_get.sync(video_id=uuid.uuid4(), client=client)
    assert isinstance(missing, ErrorOut) and missing.code == "not_found"
