"""The contract every provider module keeps, proven against the sandbox upstream over HTTP.

Each provider runs the same tests: submit (image and text templates), the mapping of every
status the upstream reports, errors of every kind, pushes read into hints, lost creates,
cancel, key checks and results opened. Behaviour switches are words in the sandbox keys
(sandbox/server.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.errors import FieldError
from tests.conftest import ART_FONTS, DIVING, RUN_FOR_LIFE, make_image
from videos.providers import PROVIDERS, provider_for
from videos.providers.base import (
    CallbackHint,
    Credentials,
    MediaInput,
    Progress,
    State,
    SubmitRequest,
)
from videos.providers.errors import (
    AmbiguousCreate,
    CredentialsRejected,
    InsufficientBalance,
    Moderated,
    PermanentError,
    RateLimited,
    TransientError,
)


@dataclass(frozen=True)
class Profile:
    slug: str
    secret: Callable[[str], str]  # sandbox switches -> a key of this provider
    # (switches, the error the create raises)
    create_errors: tuple[tuple[str, type[Exception]], ...]
    # Switches that make the create's answer lost while the task exists upstream.
    lost_create: str
    # The raw statuses the sandbox walks a task through, in order (after the first look).
    statuses: tuple[str, ...]


PROFILES = {
    "minimax": Profile(
        slug="minimax",
        secret=lambda words: f"sk-contract-{words}-x1",
        create_errors=(
            ("invalid", CredentialsRejected),
            ("err1008", InsufficientBalance),
            ("err1002", RateLimited),
            ("err2045", RateLimited),
            ("err1026", Moderated),
            ("err1000", TransientError),
            ("err1033", TransientError),
            ("err2013", PermanentError),
        ),
        lost_create="slowcreate",
        statuses=("Preparing", "Processing", "Success"),
    ),
    "useapi": Profile(
        slug="useapi",
        secret=lambda words: f"user:42-contract-{words}-x1",
        create_errors=(
            ("invalid", CredentialsRejected),
            ("err412", InsufficientBalance),
            ("err402", InsufficientBalance),
            ("err429", RateLimited),
            # A server error to the create may have been passed on: ambiguous, not retried.
            ("err596", AmbiguousCreate),
            ("err502", AmbiguousCreate),
            ("err404", PermanentError),
            ("err400", PermanentError),
        ),
        lost_create="cut",
        statuses=("0 pending", "11 queued", "12 processing", "2 completed"),
    ),
}


@pytest.fixture(params=sorted(PROVIDERS))
def profile(request) -> Profile:
    return PROFILES[request.param]


@pytest.fixture
def upstream_sandbox(sandbox, settings):
    # A create whose answer takes longer than this is ambiguous ("slowcreate" answers in 3 s).
    settings.UPSTREAM_CREATE_TIMEOUT = (2, 1.5)
    return sandbox


def creds(profile: Profile, words: str = "ok") -> Credentials:
    return Credentials(secret=profile.secret(words))


def image_request(**overrides) -> SubmitRequest:
    data = make_image(640, 480)
    fields = {
        "template_id": DIVING,
        "text_inputs": [],
        "media": [MediaInput(position=0, content_type="image/png", url="", read=lambda: data)],
        "callback_url": "",
        "reference": "job-contract-1",
    }
    fields.update(overrides)
    return SubmitRequest(**fields)


def text_request(**overrides) -> SubmitRequest:
    return image_request(template_id=ART_FONTS, text_inputs=["Hello"], media=[], **overrides)


def follow(provider, credentials, task_id: str, *, timeout: float = 15) -> list[Progress]:
    """Every distinct answer of the upstream until the task is final."""
    seen: list[Progress] = []
    deadline = time.monotonic() + timeout
    data: dict = {}
    while time.monotonic() < deadline:
        progress = provider.status(credentials, task_id, data)
        data.update(progress.data)
        if not seen or progress.raw_status != seen[-1].raw_status:
            seen.append(progress)
        if progress.state in (State.SUCCEEDED, State.FAILED):
            return seen
        time.sleep(0.03)
    raise AssertionError(f"task {task_id} did not end: {[p.raw_status for p in seen]}")


def read_all(stream) -> bytes:
    try:
        return b"".join(stream.chunks)
    finally:
        stream.close()


# --- Submitting and following ----------------------------------------------------------------


@pytest.mark.parametrize("make_request", [image_request, text_request], ids=["image", "text"])
def test_it_makes_a_video_and_opens_the_result(profile, upstream_sandbox, make_request):
    provider = provider_for(profile.slug)
    credentials = creds(profile, "gen2")
    provider.check_credentials(credentials)
    submitted = provider.submit(credentials, make_request())
    assert submitted.task_id
    seen = follow(provider, credentials, submitted.task_id)
    assert seen[-1].state is State.SUCCEEDED
    data = {**submitted.data}
    for progress in seen:
        data.update(progress.data)
    video = read_all(provider.open_result(credentials, submitted.task_id, data))
    assert video == upstream_sandbox.video


def test_it_maps_every_status_on_the_way(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    credentials = creds(profile, "gen2")
    submitted = provider.submit(credentials, image_request())
    seen = follow(provider, credentials, submitted.task_id)
    assert tuple(p.raw_status.lower() for p in seen) == tuple(s.lower() for s in profile.statuses)
    states = [p.state for p in seen]
    assert states[0] is State.PENDING and states[-1] is State.SUCCEEDED
    assert all(s in (State.PENDING, State.RUNNING) for s in states[:-1])
    # A percent, where the upstream gives one, only ever grows.
    percents = [p.percent for p in seen if p.percent is not None]
    assert percents == sorted(percents)


def test_it_maps_a_failed_task(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    credentials = creds(profile, "fail")
    submitted = provider.submit(credentials, image_request())
    final = follow(provider, credentials, submitted.task_id)[-1]
    assert final.state is State.FAILED
    assert final.error_code == "upstream_failed" and final.message


def test_it_reads_the_lower_case_spellings_of_minimax(upstream_sandbox):
    provider = provider_for("minimax")
    credentials = Credentials(secret="sk-contract-lower-gen2")
    submitted = provider.submit(credentials, image_request())
    seen = follow(provider, credentials, submitted.task_id)
    assert [p.raw_status for p in seen] == ["preparing", "processing", "success"]
    assert seen[-1].state is State.SUCCEEDED


def test_it_finds_a_minimax_result_behind_a_file_id(upstream_sandbox):
    provider = provider_for("minimax")
    credentials = Credentials(secret="sk-contract-fileid-gen1")
    submitted = provider.submit(credentials, image_request())
    final = follow(provider, credentials, submitted.task_id)[-1]
    assert final.data["file_id"] and not final.data["video_url"]
    video = read_all(provider.open_result(credentials, submitted.task_id, final.data))
    assert video == upstream_sandbox.video


@pytest.mark.parametrize("words", ["moderated", "removed"])
def test_it_maps_useapi_moderation_to_a_clear_failure(upstream_sandbox, words):
    provider = provider_for("useapi")
    credentials = Credentials(secret=f"user:42-contract-{words}-gen1")
    submitted = provider.submit(credentials, image_request())
    final = follow(provider, credentials, submitted.task_id)[-1]
    assert final.state is State.FAILED and final.error_code == "moderated"
    assert "moderat" in final.message.lower()


def test_it_maps_useapi_retention_to_an_expired_failure(settings):
    from sandbox.server import SandboxServer

    with SandboxServer(
        port=0, generation_seconds=0.3, heartbeat_seconds=0.1, useapi_retention_seconds=0.6
    ) as server:
        settings.USEAPI_BASE_URL = server.base_url
        provider = provider_for("useapi")
        credentials = Credentials(secret="user:42-contract-retention")
        submitted = provider.submit(credentials, image_request())
        time.sleep(1.2)
        final = provider.status(credentials, submitted.task_id, {})
    assert final.state is State.FAILED and final.error_code == "expired"


def test_it_gives_useapi_posters_and_images_made_on_the_way(upstream_sandbox):
    provider = provider_for("useapi")
    credentials = Credentials(secret="user:42-contract-gen1")
    submitted = provider.submit(credentials, image_request())
    final = follow(provider, credentials, submitted.task_id)[-1]
    [poster] = [a for a in final.artifacts if a.kind == "poster"]
    image = read_all(provider.open_artifact(poster.url))
    assert image.startswith(b"\x89PNG")


# --- Errors of every kind ----------------------------------------------------------------------


def test_it_raises_the_right_error_for_every_refused_create(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    for words, error in profile.create_errors:
        with pytest.raises(error) as excinfo:
            provider.submit(creds(profile, words), image_request())
        assert type(excinfo.value) is error, words
        assert excinfo.value.message, words
        assert profile.secret(words) not in str(excinfo.value), words
        if error is RateLimited:
            assert excinfo.value.retry_after > 0, words


def test_it_retries_after_a_flaky_rate_limit(upstream_sandbox):
    for slug, words in (("minimax", "flaky1002"), ("useapi", "flaky429")):
        provider = provider_for(slug)
        credentials = creds(PROFILES[slug], words)
        with pytest.raises(RateLimited):
            provider.submit(credentials, image_request())
        assert provider.submit(credentials, image_request()).task_id


def test_it_refuses_keys_of_the_wrong_shape(profile):
    provider = provider_for(profile.slug)
    provider.check_credentials(creds(profile))
    for secret in ("has space 12345678", "sk-ключ-12345678", "short"):
        with pytest.raises(FieldError) as excinfo:
            provider.check_credentials(Credentials(secret=secret))
        assert excinfo.value.field == "secret"
        assert secret not in excinfo.value.message


def test_it_checks_a_key_with_a_harmless_call(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    provider.check_key(creds(profile))
    with pytest.raises(CredentialsRejected):
        provider.check_key(creds(profile, "invalid"))
    assert upstream_sandbox.tasks() == [] and upstream_sandbox.useapi_videos() == []


def test_it_answers_a_query_of_another_accounts_task_as_permanent(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    submitted = provider.submit(creds(profile, "owner"), image_request())
    with pytest.raises(PermanentError):
        provider.status(creds(profile, "someone-else"), submitted.task_id, {})


# --- Lost creates --------------------------------------------------------------------------


def test_it_reports_a_lost_create_as_ambiguous_and_never_creates_twice(profile, upstream_sandbox):
    from datetime import UTC, datetime, timedelta

    provider = provider_for(profile.slug)
    credentials = creds(profile, profile.lost_create)
    since = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(AmbiguousCreate):
        provider.submit(credentials, image_request(reference="job-lost-7"))
    made = upstream_sandbox.tasks() + upstream_sandbox.useapi_videos()
    assert len(made) == 1  # the upstream made it, and will bill it
    found = provider.find_lost(credentials, reference="job-lost-7", template_id=DIVING, since=since)
    if profile.slug == "useapi":
        # useapi lists what runs through it: the lost video is found, not made again.
        assert found is not None and found.task_id == made[0]["videoId"]
    else:
        # The official API lists nothing: only a push to the job's callback URL can tell.
        assert found is None
    assert len(upstream_sandbox.tasks() + upstream_sandbox.useapi_videos()) == 1


def test_it_does_not_take_another_jobs_video_for_a_lost_one(upstream_sandbox):
    from datetime import UTC, datetime, timedelta

    provider = provider_for("useapi")
    credentials = Credentials(secret="user:42-contract-gen5")
    provider.submit(credentials, image_request(reference="job-other"))
    since = datetime.now(UTC) - timedelta(seconds=5)
    assert (
        provider.find_lost(credentials, reference="job-mine", template_id=DIVING, since=since)
        is None
    )


def test_it_finds_nothing_after_a_stream_without_a_video_id(upstream_sandbox):
    from datetime import UTC, datetime, timedelta

    provider = provider_for("useapi")
    credentials = Credentials(secret="user:42-contract-novideoid")
    since = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(AmbiguousCreate):
        provider.submit(credentials, image_request(reference="job-none"))
    assert (
        provider.find_lost(credentials, reference="job-none", template_id=DIVING, since=since)
        is None
    )


# --- Cancel --------------------------------------------------------------------------------


def test_it_cancels_a_running_task_where_the_upstream_can(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    credentials = creds(profile, "gen5")
    submitted = provider.submit(credentials, image_request())
    if not provider.cancels_running:
        with pytest.raises(PermanentError):
            provider.cancel(credentials, submitted.task_id)
        return
    provider.cancel(credentials, submitted.task_id)
    final = provider.status(credentials, submitted.task_id, {})
    assert final.state is State.FAILED and final.error_code == "canceled"


# --- Pushes -------------------------------------------------------------------------------


class _Receiver:
    """A local stand-in for our callback view: the provider decides every answer."""

    def __init__(self, provider):
        self.provider = provider
        self.hints: list[CallbackHint] = []
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = receiver.provider.read_callback(payload)
                receiver.bodies.append(payload)
                if reply.hint is not None:
                    receiver.hints.append(reply.hint)
                data = json.dumps(dict(reply.body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/x/token/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_it_reads_the_upstreams_pushes_into_hints(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    receiver = _Receiver(provider)
    try:
        credentials = creds(profile, "gen1")
        submitted = provider.submit(credentials, image_request(callback_url=receiver.url))
        follow(provider, credentials, submitted.task_id)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            h.raw_status.lower().startswith(("success", "2")) for h in receiver.hints
        ):
            time.sleep(0.05)
    finally:
        receiver.close()
    assert receiver.hints, receiver.bodies
    assert {h.task_id for h in receiver.hints} == {submitted.task_id}
    if profile.slug == "minimax":
        # The challenge came first and was answered by echoing it (else no task was made).
        assert "challenge" in receiver.bodies[0]
    else:
        assert {h.reference for h in receiver.hints} == {"job-contract-1"}


def test_it_reads_odd_pushes_without_crashing(profile):
    provider = provider_for(profile.slug)
    for payload in ({}, {"status": None}, {"task_id": 5, "status": ["x"]}, {"videoId": {}}):
        reply = provider.read_callback(payload)
        assert isinstance(dict(reply.body), dict)


# --- The catalogue ---------------------------------------------------------------------------


def test_it_lists_its_own_catalogue_where_it_has_one(profile, upstream_sandbox):
    provider = provider_for(profile.slug)
    entries = list(provider.catalogue(creds(profile)))
    if not provider.lists_catalogue:
        assert entries == []
        return
    by_id = {e.template_id: e for e in entries}
    assert len(by_id) == 6
    assert (by_id[RUN_FOR_LIFE].media_inputs, by_id[RUN_FOR_LIFE].text_inputs) == (1, 1)
    assert by_id[DIVING].media_inputs is None  # the detail states no inputs
    assert all(e.price_cents and e.price_cents > 0 for e in entries)
    assert all(e.cover_url for e in entries)


def test_it_never_fetches_an_upstream_link_to_a_private_address(profile, settings):
    # A link the upstream hands out (a result, a poster) is not an operator's choice: only
    # public addresses are reached, unlike the configured upstream host itself.
    settings.WEBHOOK_ALLOW_PRIVATE = False
    provider = provider_for(profile.slug)
    for url in ("http://127.0.0.1:9/poster.png", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(PermanentError) as excinfo:
            provider.open_artifact(url)
        assert excinfo.value.code == "unsafe_url"
