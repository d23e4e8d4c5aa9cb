"""The useapi.net provider against a scripted fake session (no network, no database)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from fractions import Fraction
from typing import Any
from urllib.parse import quote

import pytest
import requests
import urllib3.exceptions
from django.utils.module_loading import import_string

from portal.errors import FieldError
from videos.providers import http, useapi
from videos.providers.base import (
    Artifact,
    CallbackHint,
    Credentials,
    MediaInput,
    State,
    SubmitRequest,
)
from videos.providers.errors import (
    AmbiguousCreate,
    CredentialsRejected,
    InsufficientBalance,
    PermanentError,
    RateLimited,
    TransientError,
    UpstreamError,
)

BASE = "https://useapi.test/v1/minimax/"
SECRET = "user:123-abcDEF_x"
CREDENTIALS = Credentials(secret=SECRET)
VIDEO_ID = "user:123-minimax:1000001-video:7654321"
FILE_ID = "user:123-minimax:1000001-file:42"
OSS_PATH = "https://oss.test/uploads/42.png"
RUN_FOR_LIFE = "393769180141805569"
PNG = b"\x89PNG\r\n\x1a\n fake image bytes"

_NO_BODY = object()


class FakeResponse:
    def __init__(
        self,
        status_code: int = 200,
        body: object = _NO_BODY,
        *,
        headers: dict[str, str] | None = None,
        chunks: list[bytes] | None = None,
        error: Exception | None = None,
    ):
        self.status_code = status_code
        self._body = body
        self.headers = requests.structures.CaseInsensitiveDict(headers or {})
        self.chunks = chunks or []
        self.error = error  # raised once the chunks are read (a cut stream)
        self.chunks_read = 0
        self.closed = False

    def json(self) -> Any:
        if self._body is _NO_BODY:
            raise ValueError("not JSON")
        return self._body

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False):
        for chunk in self.chunks:
            if self.closed:
                raise AssertionError("read after close")
            self.chunks_read += 1
            yield chunk
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


def answer(
    status_code: int = 200, body: object = None, headers: dict[str, str] | None = None
) -> FakeResponse:
    return FakeResponse(status_code, body if body is not None else {}, headers=headers)


def event(body: object) -> bytes:
    return f"data: {json.dumps(body)}\n\n".encode()


def stream(*bodies: object, error: Exception | None = None) -> FakeResponse:
    """An agent-create answer, one chunk per event."""
    return FakeResponse(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=[event(body) for body in bodies],
        error=error,
    )


CREATED = {
    "status": "created",
    "videoId": VIDEO_ID,
    "projectID": "proj-1",
    "chatID": "chat-1",
    "message": {"msgContent": "a lion", "msgType": 1},
    "code": 200,
}
HEARTBEAT = {"status": "heartbeat", "timestamp": 1}
# What follows `created` in a real stream: never to be read by the provider.
AFTER = [
    {"status": "connected", "videoId": VIDEO_ID},
    HEARTBEAT,
    {"status": "progress", "type": 1, "message": {"msgContent": "Generating video..."}},
    {"status": "finished", "videoId": VIDEO_ID},
]


@dataclass
class Call:
    method: str
    path: str
    kwargs: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.kwargs.get("params") or {})

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.kwargs.get("headers") or {})


Answer = FakeResponse | Exception | Callable[[Call], FakeResponse]


@dataclass
class FakeSession:
    """Answers by (method, path) from queues (the last answer repeats); records every call.
    Paths are relative to the useapi API root; other URLs (downloads) are keyed whole."""

    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    closed: int = 0

    def on(self, method: str, path: str, *answers: Answer) -> FakeSession:
        self.routes.setdefault((method, path), []).extend(answers)
        return self

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if (c.method, c.path) == (method, path)]

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        path = url.removeprefix(BASE) if url.startswith(BASE) else url
        call = Call(method, path, kwargs)
        self.calls.append(call)
        queue = self.routes.get((method, path))
        if not queue:
            raise AssertionError(f"unexpected call {method} {path}")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, FakeResponse):
            return reply(call)
        return reply

    def get(self, url: str, **kwargs: Any) -> FakeResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> FakeResponse:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def upstream(monkeypatch, settings) -> FakeSession:
    settings.USEAPI_BASE_URL = "https://useapi.test"
    settings.UPSTREAM_TIMEOUT = (5, 30)
    settings.UPSTREAM_CREATE_TIMEOUT = (5, 60)
    fake = FakeSession()
    monkeypatch.setattr(http, "new_session", lambda: fake)
    return fake


provider = useapi.provider


def image(*, upload_ref: dict[str, str] | None = None, read: bool = True) -> MediaInput:
    return MediaInput(
        position=0,
        content_type="image/png",
        url="",
        read=(lambda: PNG) if read else None,
        upload_ref=upload_ref or {},
    )


def submit_request(**overrides: Any) -> SubmitRequest:
    fields: dict[str, Any] = {
        "template_id": RUN_FOR_LIFE,
        "text_inputs": ["a lion"],
        "media": [image()],
        "callback_url": "https://portal.test/callbacks/useapi/tok/",
        "reference": "job-1",
    }
    fields.update(overrides)
    return SubmitRequest(**fields)


def uploaded() -> FakeResponse:
    return answer(body={"fileID": FILE_ID, "ossPath": OSS_PATH})


# --- Identity and rules ------------------------------------------------------------------


def test_it_is_the_registered_useapi_provider(settings):
    settings.UPSTREAM_CREATE_TIMEOUT = (5, 75)

    assert import_string("videos.providers.useapi.provider") is provider
    assert provider.slug == "useapi"
    assert provider.label == "useapi.net (MiniMax proxy)"
    assert [r.slug for r in provider.regions] == ["global"]
    assert provider.cancels_running is True
    assert provider.lists_catalogue is True
    assert provider.create_timeout == 75.0


def test_it_states_the_input_rules():
    rules = provider.rules

    assert dict(rules.image.formats) == {"PNG": "image/png", "JPEG": "image/jpeg"}
    assert rules.image.max_bytes == 20 * 1024 * 1024
    assert rules.image.min_short_side == 300
    assert (rules.image.min_aspect, rules.image.max_aspect) == (Fraction(2, 5), Fraction(5, 2))
    assert rules.max_text == 500
    assert rules.media_urls is False


# --- check_credentials -------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials(secret=SECRET),
        Credentials(secret="user:987654-Zz9_-.~!x", account="1000001", max_jobs=1),
        Credentials(secret=SECRET, account="acc.2@example", max_jobs=10),
    ],
)
def test_it_accepts_a_useapi_token(credentials):
    provider.check_credentials(credentials)


@pytest.mark.parametrize(
    "secret",
    [
        "sk-api-abcdefgh12345678",
        "user:123-abc def",
        "user:123-abcé",
        "user:123-",
        "user:abc-def",
        "Bearer user:123-abc",
        " user:123-abc",
        "user:123-abc\n",
        "",
        "user:123-" + "x" * 600,
    ],
)
def test_it_refuses_a_secret_of_another_shape(secret):
    with pytest.raises(FieldError) as caught:
        provider.check_credentials(Credentials(secret=secret))

    assert caught.value.field == "secret"
    assert "user:<number>-<string>" in caught.value.message
    if secret:
        assert secret not in str(caught.value)


@pytest.mark.parametrize("max_jobs", [0, 11, -1, True])
def test_it_refuses_max_jobs_out_of_range(max_jobs):
    with pytest.raises(FieldError) as caught:
        provider.check_credentials(Credentials(secret=SECRET, max_jobs=max_jobs))

    assert caught.value.field == "max_jobs"


@pytest.mark.parametrize("account", ["a b", "../etc", "x" * 65, "acc\n", "cöunt", "-lead"])
def test_it_refuses_an_account_with_unsafe_characters(account):
    with pytest.raises(FieldError) as caught:
        provider.check_credentials(Credentials(secret=SECRET, account=account))

    assert caught.value.field == "account"


# --- check_key ---------------------------------------------------------------------------


def test_it_checks_a_key_with_get_accounts(upstream):
    upstream.on("GET", "accounts", answer(body={"1000001": {"account": "1000001"}}))

    provider.check_key(CREDENTIALS)

    (call,) = upstream.calls
    assert call.headers["Authorization"] == f"Bearer {SECRET}"
    assert call.kwargs["timeout"] == (5, 30)


def test_it_reports_a_rejected_key(upstream):
    upstream.on("GET", "accounts", answer(401, {"error": "Unauthorized"}))

    with pytest.raises(CredentialsRejected):
        provider.check_key(CREDENTIALS)


def test_it_accepts_a_key_refused_for_another_reason(upstream):
    upstream.on("GET", "accounts", answer(412, {"error": "Insufficient credits"}))

    provider.check_key(CREDENTIALS)


# --- submit ------------------------------------------------------------------------------


def test_it_uploads_the_image_then_creates_with_exactly_the_documented_fields(upstream):
    create = stream(CREATED, *AFTER)
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    submitted = provider.submit(CREDENTIALS, submit_request())

    upload, created = upstream.calls
    assert upload.kwargs["data"] == PNG
    assert upload.headers["Content-Type"] == "image/png"
    assert upload.headers["Authorization"] == f"Bearer {SECRET}"
    assert not upload.params
    assert created.kwargs["json"] == {
        "templateId": RUN_FOR_LIFE,
        "prompt": "a lion",
        "fileID": FILE_ID,
        "ossPath": OSS_PATH,
        "replyUrl": "https://portal.test/callbacks/useapi/tok/",
        "replyRef": "job-1",
    }
    assert created.kwargs["stream"] is True
    assert created.kwargs["timeout"] == (5, 60)
    assert submitted.task_id == VIDEO_ID
    assert submitted.data == {"video_id": VIDEO_ID, "project_id": "proj-1", "chat_id": "chat-1"}


def test_it_sends_account_and_max_jobs_when_the_key_has_them(upstream):
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", stream(CREATED))
    credentials = Credentials(secret=SECRET, account="1000001", max_jobs=3)

    provider.submit(credentials, submit_request(callback_url=""))

    upload, created = upstream.calls
    assert upload.params == {"account": "1000001"}
    assert created.kwargs["json"] == {
        "templateId": RUN_FOR_LIFE,
        "prompt": "a lion",
        "fileID": FILE_ID,
        "ossPath": OSS_PATH,
        "replyRef": "job-1",
        "maxJobs": 3,
        "account": "1000001",
    }


def test_it_creates_without_file_or_prompt_when_the_template_needs_none(upstream):
    upstream.on("POST", "videos/agent-create", stream(CREATED))

    provider.submit(CREDENTIALS, submit_request(media=[], text_inputs=[], callback_url=""))

    (created,) = upstream.calls
    assert created.kwargs["json"] == {"templateId": RUN_FOR_LIFE, "replyRef": "job-1"}


def test_it_reuses_an_earlier_upload(upstream):
    upstream.on("POST", "videos/agent-create", stream(CREATED))
    reads = []
    media = MediaInput(
        position=0,
        content_type="image/png",
        url="",
        read=lambda: reads.append(1) or PNG,  # type: ignore[func-returns-value]
        upload_ref={"fileID": FILE_ID, "ossPath": OSS_PATH},
    )
    uploads = []

    provider.submit(
        CREDENTIALS,
        submit_request(media=[media], on_upload=lambda pos, ref: uploads.append(ref)),
    )

    assert [c.path for c in upstream.calls] == ["videos/agent-create"]
    assert upstream.calls[0].kwargs["json"]["fileID"] == FILE_ID
    assert upstream.calls[0].kwargs["json"]["ossPath"] == OSS_PATH
    assert reads == [] and uploads == []


def test_it_uploads_again_when_the_earlier_upload_lacks_oss_path(upstream):
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", stream(CREATED))

    provider.submit(CREDENTIALS, submit_request(media=[image(upload_ref={"fileID": FILE_ID})]))

    assert [c.path for c in upstream.calls] == ["files/", "videos/agent-create"]


def test_it_reports_the_upload_before_creating(upstream):
    seen: list[object] = []

    def create(call: Call) -> FakeResponse:
        seen.append("create")
        return stream(CREATED)

    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    provider.submit(
        CREDENTIALS,
        submit_request(on_upload=lambda position, ref: seen.append((position, dict(ref)))),
    )

    assert seen == [(0, {"fileID": FILE_ID, "ossPath": OSS_PATH}), "create"]


def test_it_refuses_an_upload_answer_without_file_id(upstream):
    upstream.on("POST", "files/", answer(body={"fileID": FILE_ID}))

    with pytest.raises(TransientError) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert not isinstance(caught.value, AmbiguousCreate)
    assert not upstream.calls_to("POST", "videos/agent-create")


def test_it_refuses_an_input_it_cannot_upload(upstream):
    webp = MediaInput(position=0, content_type="image/webp", url="", read=lambda: b"RIFF")

    with pytest.raises(PermanentError, match="PNG and JPEG"):
        provider.submit(CREDENTIALS, submit_request(media=[webp]))
    with pytest.raises(PermanentError, match="image itself"):
        provider.submit(CREDENTIALS, submit_request(media=[image(read=False)]))
    assert upstream.calls == []


def test_it_closes_the_stream_right_after_the_video_id(upstream):
    create = stream(HEARTBEAT, CREATED, *AFTER)
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    submitted = provider.submit(CREDENTIALS, submit_request())

    assert submitted.task_id == VIDEO_ID
    assert create.chunks_read == 2  # the heartbeat and `created`; nothing after
    assert create.closed


def test_it_finds_the_video_id_in_an_event_split_over_chunks(upstream):
    whole = event(HEARTBEAT) + event(CREATED) + b"".join(event(b) for b in AFTER)
    create = FakeResponse(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=[whole[i : i + 7] for i in range(0, len(whole), 7)],
    )
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    assert provider.submit(CREDENTIALS, submit_request()).task_id == VIDEO_ID
    assert create.chunks_read * 7 < len(whole)
    assert create.closed


def test_it_keeps_the_notes_and_images_that_came_before_the_video_id(upstream):
    create = stream(
        {"status": "progress", "type": 1, "message": {"msgContent": "Generating image..."}},
        {
            "status": "progress",
            "type": 2,
            "message": {"attachmentInfo": {"attachments": [{"file": {}, "status": 2}]}},
        },
        {
            "status": "progress",
            "type": 2,
            "message": {
                "attachmentInfo": {
                    "attachments": [
                        {
                            "file": {"fileName": "car.png", "fileUrl": "https://cdn.test/car.png"},
                            "status": 3,
                        }
                    ]
                }
            },
        },
        {
            "status": "progress",
            "type": 2,
            "message": {
                "attachmentInfo": {
                    "type": 3,
                    "attachments": [{"file": {"fileUrl": "https://cdn.test/v.mp4"}, "status": 3}],
                }
            },
        },
        {"status": "thinking", "type": 7},
        {"status": "connected", "videoId": VIDEO_ID},
        *AFTER,
    )
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    submitted = provider.submit(CREDENTIALS, submit_request())

    assert submitted.notes == ("Generating image...",)
    assert submitted.artifacts == (
        Artifact(url="https://cdn.test/car.png", kind="image", name="car.png"),
    )
    assert submitted.data == {"video_id": VIDEO_ID}


def test_it_skips_unreadable_events_in_the_stream(upstream):
    create = FakeResponse(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=[b"data: not json\n\n", b"data: [1]\n\n", b": comment\n\n", event(CREATED)],
    )
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    assert provider.submit(CREDENTIALS, submit_request()).task_id == VIDEO_ID


def test_it_reads_a_json_answer_to_the_create(upstream):
    create = answer(body={"videoId": VIDEO_ID}, headers={"Content-Type": "application/json"})
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    assert provider.submit(CREDENTIALS, submit_request()).task_id == VIDEO_ID


def test_it_raises_ambiguous_create_on_a_stream_cut_before_the_video_id(upstream):
    create = stream(HEARTBEAT, error=requests.exceptions.ChunkedEncodingError("cut"))
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    with pytest.raises(AmbiguousCreate) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert caught.value.code == "stream_cut"
    assert create.closed


def test_it_raises_ambiguous_create_on_a_stream_cut_inside_an_event(upstream):
    create = FakeResponse(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=[event(HEARTBEAT), event(CREATED)[:40]],
    )
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    with pytest.raises(AmbiguousCreate, match="ended before"):
        provider.submit(CREDENTIALS, submit_request())


def test_it_raises_ambiguous_create_on_a_stream_without_video_id(upstream):
    create = stream(HEARTBEAT, HEARTBEAT, {"status": "progress", "type": 3, "isFinished": True})
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    with pytest.raises(AmbiguousCreate) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert caught.value.code == "no_video_id"
    assert create.closed


def test_it_raises_ambiguous_create_when_the_create_read_times_out(upstream):
    upstream.on("POST", "files/", uploaded())
    upstream.on("POST", "videos/agent-create", requests.ReadTimeout("slow"))

    with pytest.raises(AmbiguousCreate):
        provider.submit(CREDENTIALS, submit_request())


def test_it_raises_ambiguous_create_when_the_connection_drops_after_sending(upstream):
    reset = requests.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    )
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", reset)

    with pytest.raises(AmbiguousCreate):
        provider.submit(CREDENTIALS, submit_request())


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectTimeout("connect timeout"),
        requests.ConnectionError(
            urllib3.exceptions.MaxRetryError(
                None,  # type: ignore[arg-type]
                BASE,
                urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
            )
        ),
    ],
)
def test_it_raises_a_plain_transient_error_when_the_create_cannot_connect(upstream, error):
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", error)

    with pytest.raises(TransientError) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert not isinstance(caught.value, AmbiguousCreate)


def test_it_raises_ambiguous_create_when_the_create_takes_too_long_in_total(
    upstream, monkeypatch, settings
):
    settings.UPSTREAM_CREATE_TIMEOUT = (5, 60)
    clock = iter(range(0, 10_000, 10))  # ten seconds pass per heartbeat
    monkeypatch.setattr(useapi, "_now", lambda: float(next(clock)))
    create = stream(*[HEARTBEAT] * 100, CREATED)
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    with pytest.raises(AmbiguousCreate) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert caught.value.code == "timeout"
    assert create.chunks_read == 7  # 70 s > 60 s: it stopped there
    assert create.closed


def test_it_raises_ambiguous_create_on_an_oversize_stream(upstream):
    endless = FakeResponse(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=[b"data: " + b"x" * 65536] * 20,
    )
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", endless)

    with pytest.raises(AmbiguousCreate) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert caught.value.code == "bad_stream"
    assert endless.chunks_read < 20


def test_it_raises_a_permanent_error_for_an_error_event_before_the_video_id(upstream):
    create = stream(HEARTBEAT, {"errCode": 1026, "errMsg": f"sensitive input ({SECRET})"})
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", create)

    with pytest.raises(PermanentError) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert caught.value.code == "stream_1026"
    assert "sensitive input ([redacted])" in caught.value.message
    assert SECRET not in str(caught.value)
    assert create.closed


def test_it_raises_a_permanent_error_for_an_error_field_in_the_stream(upstream):
    upstream.on("POST", "files/", uploaded())
    upstream.on("POST", "videos/agent-create", stream({"error": "Template is not available"}))

    with pytest.raises(PermanentError, match="Template is not available"):
        provider.submit(CREDENTIALS, submit_request())


def test_it_ignores_a_zero_err_code(upstream):
    upstream.on("POST", "files/", uploaded())
    upstream.on("POST", "videos/agent-create", stream({"errCode": 0, "errMsg": ""}, CREATED))

    assert provider.submit(CREDENTIALS, submit_request()).task_id == VIDEO_ID


def test_it_reports_a_gone_template_on_create(upstream):
    gone = answer(404, {"error": "The video or template you are trying to use does not exist"})
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", gone)

    with pytest.raises(PermanentError) as caught:
        provider.submit(CREDENTIALS, submit_request())

    assert caught.value.code == "not_found"
    assert "template" in caught.value.message
    assert gone.closed


# --- HTTP errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "code"),
    [
        (401, CredentialsRejected, "http_401"),
        (402, InsufficientBalance, "http_402"),
        (412, InsufficientBalance, "http_412"),
        (404, PermanentError, "not_found"),
        (429, RateLimited, "http_429"),
        (500, TransientError, "http_500"),
        (502, TransientError, "http_502"),
        (504, TransientError, "http_504"),
        (596, TransientError, "http_596"),
        (400, PermanentError, "http_400"),
        (403, PermanentError, "http_403"),
        (422, PermanentError, "http_422"),
        (408, TransientError, "http_408"),
    ],
)
def test_it_classifies_http_errors(upstream, status, error_class, code):
    upstream.on("POST", "videos/cancel", answer(status, {"error": "nope"}))

    with pytest.raises(UpstreamError) as caught:
        provider.cancel(CREDENTIALS, VIDEO_ID)

    assert type(caught.value) is error_class
    assert caught.value.code == code
    assert "(nope)" in caught.value.message
    if status >= 500:
        assert not isinstance(caught.value, PermanentError | RateLimited)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7),
        ("0", 0),
        (" 12 ", 12),
        ("2.5", 2.5),
        (None, 30),
        ("", 30),
        ("soon", 30),
        ("-3", 30),
        ("nan", 30),
        ("inf", 30),
        ("99999999", 3600),
    ],
)
def test_it_reads_retry_after(upstream, header, seconds):
    headers = {"Retry-After": header} if header is not None else {}
    upstream.on("POST", "videos/cancel", answer(429, {"error": "busy"}, headers))

    with pytest.raises(RateLimited) as caught:
        provider.cancel(CREDENTIALS, VIDEO_ID)

    assert caught.value.retry_after == seconds


@pytest.mark.parametrize("status", [504, 524])
def test_it_takes_a_gateway_timeout_of_the_create_as_ambiguous(upstream, status):
    upstream.on("POST", "files/", uploaded())
    upstream.on("POST", "videos/agent-create", answer(status, {"error": "timeout"}))

    with pytest.raises(AmbiguousCreate):
        provider.submit(CREDENTIALS, submit_request())


@pytest.mark.parametrize("status", [500, 502, 503, 596, 408])
def test_it_takes_every_server_error_of_the_create_as_ambiguous(upstream, status):
    # No idempotency at useapi (upstream FACTS): the create may have been passed on.
    upstream.on("POST", "files/", uploaded())
    upstream.on("POST", "videos/agent-create", answer(status, {"error": "broken"}))

    with pytest.raises(AmbiguousCreate):
        provider.submit(CREDENTIALS, submit_request())


def test_it_reads_retry_after_as_an_http_date(upstream):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    upstream.on("POST", "videos/cancel", answer(429, {"error": "busy"}, {"Retry-After": when}))

    with pytest.raises(RateLimited) as caught:
        provider.cancel(CREDENTIALS, VIDEO_ID)

    assert 100 <= caught.value.retry_after <= 120


def test_it_shows_the_upstream_error_text_capped(upstream):
    upstream.on("POST", "videos/cancel", answer(400, {"error": "bad videoId " + "x" * 2000}))

    with pytest.raises(PermanentError) as caught:
        provider.cancel(CREDENTIALS, VIDEO_ID)

    assert "bad videoId xxx" in caught.value.message
    assert len(caught.value.message) < 400


def test_it_shows_no_body_text_for_an_answer_that_is_not_json(upstream):
    upstream.on("POST", "videos/cancel", FakeResponse(502, headers={"Content-Type": "text/html"}))

    with pytest.raises(TransientError) as caught:
        provider.cancel(CREDENTIALS, VIDEO_ID)

    assert caught.value.message == "useapi.net answered HTTP 502; trying later."


@pytest.mark.parametrize(
    "body",
    [
        {"error": f"Token {SECRET} is not valid"},
        {"error": "Token abcDEF_x is not valid"},  # the secret part alone
        {"error": {"detail": f"Bearer {SECRET}"}},
    ],
)
def test_it_never_shows_the_secret(upstream, caplog, body):
    caplog.set_level(logging.DEBUG)
    upstream.on("POST", "videos/cancel", answer(401, body, {"Trace-Id": "t-1"}))

    with pytest.raises(CredentialsRejected) as caught:
        provider.cancel(CREDENTIALS, VIDEO_ID)

    error = caught.value
    for text in (str(error), error.message, repr(error), caplog.text):
        assert SECRET not in text
        assert "abcDEF_x" not in text
    assert "[redacted]" in error.message
    assert error.trace_id == "t-1"


def test_it_keeps_the_secret_out_of_reprs_and_logs(upstream, caplog):
    caplog.set_level(logging.DEBUG)
    upstream.on("POST", "files/", uploaded()).on("POST", "videos/agent-create", stream(CREATED))

    provider.submit(CREDENTIALS, submit_request())

    client = useapi._Client(CREDENTIALS)
    for text in (repr(provider), repr(client), repr(CREDENTIALS), caplog.text):
        assert SECRET not in text
    assert "useapi POST videos/agent-create -> HTTP 200" in caplog.text


@pytest.mark.parametrize(
    "error",
    [requests.ReadTimeout("slow"), requests.ConnectTimeout("x"), requests.ConnectionError()],
)
def test_it_raises_transient_errors_for_network_failures_of_other_calls(upstream, error):
    upstream.on("GET", f"videos/{quote(VIDEO_ID, safe='')}", error)

    with pytest.raises(TransientError) as caught:
        provider.status(CREDENTIALS, VIDEO_ID, {})

    assert not isinstance(caught.value, AmbiguousCreate)


def test_it_treats_an_answer_that_is_not_json_as_transient(upstream):
    upstream.on("GET", f"videos/{quote(VIDEO_ID, safe='')}", FakeResponse(200))

    with pytest.raises(TransientError, match="not JSON"):
        provider.status(CREDENTIALS, VIDEO_ID, {})


# --- status ------------------------------------------------------------------------------

VIDEO_PATH = "videos/user%3A123-minimax%3A1000001-video%3A7654321"


def video(**fields: Any) -> FakeResponse:
    return answer(body={"videoId": VIDEO_ID, **fields})


@pytest.mark.parametrize(
    ("code", "label", "state", "raw"),
    [
        (0, "pending", State.PENDING, "0 pending"),
        (11, "queued", State.PENDING, "11 queued"),
        (1, "processing", State.RUNNING, "1 processing"),
        (12, "processing", State.RUNNING, "12 processing"),
        (2, "completed", State.SUCCEEDED, "2 completed"),
        (3, "failed", State.FAILED, "3 failed"),
        (99, "mystery", State.RUNNING, "99 mystery"),
        ("12", "", State.RUNNING, "12"),
        ("dreaming", None, State.RUNNING, "dreaming"),
    ],
)
def test_it_maps_status_codes(upstream, code, label, state, raw):
    upstream.on("GET", VIDEO_PATH, video(status=code, statusLabel=label))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert progress.state is state
    assert progress.raw_status == raw
    assert upstream.calls[0].path == VIDEO_PATH


@pytest.mark.parametrize("code", [5, 7, 14])
def test_it_reports_moderated_videos(upstream, code):
    upstream.on("GET", VIDEO_PATH, video(status=code, message="did not pass moderation"))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert progress.state is State.FAILED
    assert progress.error_code == "moderated"
    assert "moderation" in progress.message


def test_it_reports_a_failed_video_with_the_upstream_message_scrubbed(upstream):
    upstream.on("GET", VIDEO_PATH, video(status=3, message=f"Generation failed for {SECRET}"))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert (progress.state, progress.error_code) == (State.FAILED, "upstream_failed")
    assert progress.message == "Generation failed for [redacted]"


def test_it_reports_a_canceled_video(upstream):
    upstream.on("GET", VIDEO_PATH, video(status=3, statusLabel="canceled"))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert (progress.state, progress.error_code) == (State.FAILED, "canceled")
    assert progress.raw_status == "3 canceled"


def test_it_keeps_result_urls_and_the_poster_of_a_completed_video(upstream):
    upstream.on(
        "GET",
        VIDEO_PATH,
        video(
            status=2,
            statusLabel="completed",
            statusFinal=True,
            percent=100,
            videoURL="https://cdn.test/v.mp4",
            downloadURL="https://cdn.test/v-nowm.mp4",
            coverURL="https://cdn.test/cover.png",
            width=720,
        ),
    )

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert progress.state is State.SUCCEEDED
    assert progress.percent == 100
    assert progress.data == {
        "video_url": "https://cdn.test/v.mp4",
        "download_url": "https://cdn.test/v-nowm.mp4",
        "cover_url": "https://cdn.test/cover.png",
        "video_id": VIDEO_ID,
    }
    assert progress.artifacts == (Artifact(url="https://cdn.test/cover.png", kind="poster"),)


def test_it_shows_no_poster_before_completion(upstream):
    upstream.on("GET", VIDEO_PATH, video(status=12, coverURL="https://cdn.test/cover.png"))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert progress.artifacts == ()
    assert progress.data == {"cover_url": "https://cdn.test/cover.png", "video_id": VIDEO_ID}


def test_it_resolves_a_result_path_against_the_upstream_host(upstream):
    upstream.on("GET", VIDEO_PATH, video(status=2, videoURL="/_sandbox/useapi/files/v.mp4?sig=1"))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert progress.data == {
        "video_url": "https://useapi.test/_sandbox/useapi/files/v.mp4?sig=1",
        "video_id": VIDEO_ID,
    }


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (42, 42),
        (150, 100),
        (-5, 0),
        ("37", 37),
        (12.6, 13),
        ("lots", None),
        (None, None),
        (True, None),
    ],
)
def test_it_clamps_percent(upstream, percent, expected):
    upstream.on("GET", VIDEO_PATH, video(status=12, percent=percent))

    assert provider.status(CREDENTIALS, VIDEO_ID, {}).percent == expected


def test_it_reads_a_404_of_its_own_video_as_moderated_and_removed(upstream):
    upstream.on("GET", VIDEO_PATH, answer(404, {"error": "not found"}))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {"video_id": VIDEO_ID})

    assert (progress.state, progress.error_code) == (State.FAILED, "moderated")
    assert progress.message


def test_it_reads_a_404_of_a_video_it_never_made_as_not_found(upstream):
    # E.g. a pushed id we try to adopt: not this key's, so it must not look like ours.
    upstream.on("GET", VIDEO_PATH, answer(404, {"error": "not found"}))

    with pytest.raises(PermanentError) as excinfo:
        provider.status(CREDENTIALS, VIDEO_ID, {})
    assert excinfo.value.code == "not_found"


def test_it_reads_a_410_as_expired(upstream):
    upstream.on("GET", VIDEO_PATH, answer(410, {"error": "gone"}))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert (progress.state, progress.error_code) == (State.FAILED, "expired")
    assert "retention" in progress.message


def test_it_survives_a_status_answer_with_nothing_in_it(upstream):
    upstream.on("GET", VIDEO_PATH, answer(body={"status": None, "percent": {}, "videoURL": 5}))

    progress = provider.status(CREDENTIALS, VIDEO_ID, {})

    assert (progress.state, progress.raw_status, progress.data) == (State.RUNNING, "unknown", {})


def test_it_raises_rejected_credentials_on_status(upstream):
    upstream.on("GET", VIDEO_PATH, answer(401, {"error": "Unauthorized"}))

    with pytest.raises(CredentialsRejected):
        provider.status(CREDENTIALS, VIDEO_ID, {})


# --- open_result / open_artifact ---------------------------------------------------------


def download(content_type: str = "video/mp4") -> FakeResponse:
    return FakeResponse(
        200,
        headers={"Content-Type": content_type, "Content-Length": "4"},
        chunks=[b"mp4!"],
    )


def test_it_prefers_the_download_url_to_the_watermarked_video_url(upstream):
    upstream.on("GET", "https://cdn.test/nowm.mp4", download())
    data = {"video_url": "https://cdn.test/wm.mp4", "download_url": "https://cdn.test/nowm.mp4"}

    result = provider.open_result(CREDENTIALS, VIDEO_ID, data)

    assert b"".join(result.chunks) == b"mp4!"
    assert (result.content_type, result.length) == ("video/mp4", 4)
    (call,) = upstream.calls
    assert "Authorization" not in call.headers  # a signed CDN link


def test_it_falls_back_to_the_video_url(upstream):
    upstream.on("GET", "https://cdn.test/wm.mp4", download())

    provider.open_result(CREDENTIALS, VIDEO_ID, {"video_url": "https://cdn.test/wm.mp4"})

    assert [c.path for c in upstream.calls] == ["https://cdn.test/wm.mp4"]


def test_it_asks_for_the_status_when_it_knows_no_url(upstream):
    upstream.on("GET", VIDEO_PATH, video(status=2, downloadURL="https://cdn.test/nowm.mp4"))
    upstream.on("GET", "https://cdn.test/nowm.mp4", download())

    provider.open_result(CREDENTIALS, VIDEO_ID, {})

    assert [c.path for c in upstream.calls] == [VIDEO_PATH, "https://cdn.test/nowm.mp4"]


def test_it_raises_transient_when_the_video_has_no_url_yet(upstream):
    upstream.on("GET", VIDEO_PATH, video(status=12))

    with pytest.raises(TransientError, match="no link"):
        provider.open_result(CREDENTIALS, VIDEO_ID, {})


def test_it_raises_transient_when_the_link_has_expired(upstream):
    upstream.on("GET", "https://cdn.test/nowm.mp4", FakeResponse(403))

    with pytest.raises(TransientError, match="expired"):
        provider.open_result(CREDENTIALS, VIDEO_ID, {"download_url": "https://cdn.test/nowm.mp4"})


def test_it_closes_the_session_with_the_result_stream(upstream):
    response = download()
    upstream.on("GET", "https://cdn.test/nowm.mp4", response)

    result = provider.open_result(
        CREDENTIALS, VIDEO_ID, {"download_url": "https://cdn.test/nowm.mp4"}
    )
    before = upstream.closed
    result.close()

    assert response.closed
    assert upstream.closed == before + 1


def test_it_opens_an_artifact_as_an_image(upstream):
    upstream.on("GET", "https://cdn.test/car.png", download("image/png"))
    upstream.on("GET", "https://cdn.test/gone.png", FakeResponse(404))

    assert provider.open_artifact("https://cdn.test/car.png").content_type == "image/png"
    with pytest.raises(TransientError, match="image"):
        provider.open_artifact("https://cdn.test/gone.png")


# --- read_callback -----------------------------------------------------------------------


def test_it_reads_a_callback_as_a_hint():
    reply = provider.read_callback(
        {"videoId": VIDEO_ID, "status": 2, "statusLabel": "completed", "replyRef": "job-1"}
    )

    assert reply.body == {"received": True}
    assert reply.hint == CallbackHint(
        task_id=VIDEO_ID, raw_status="2 completed", reference="job-1", final=True
    )


@pytest.mark.parametrize(
    ("payload", "hint"),
    [
        ({}, None),
        ({"videoId": None, "status": None, "replyRef": None}, None),
        ({"videoId": {"x": 1}, "status": [2], "replyRef": True}, None),
        ({"status": 7}, CallbackHint(raw_status="7", final=True)),  # moderated: it ended
        ({"status": 12}, CallbackHint(raw_status="12")),  # processing
        ({"replyRef": 12345}, CallbackHint(reference="12345")),
        ({"videoId": "v" * 5000}, None),  # longer than any id the portal keeps
        ({"replyRef": "r" * 5000}, CallbackHint(reference="r" * 1024)),
        (
            {"status": "x" * 500, "statusLabel": "y" * 500},
            CallbackHint(raw_status="x" * 20 + " " + "y" * 39),
        ),
    ],
)
def test_it_reads_odd_callbacks_without_raising(payload, hint):
    reply = provider.read_callback(payload)

    assert reply.body == {"received": True}
    assert reply.hint == hint


def test_it_answers_a_callback_that_is_no_object():
    reply = provider.read_callback(["not", "an", "object"])  # type: ignore[arg-type]

    assert (reply.body, reply.hint) == ({"received": True}, None)


# --- cancel ------------------------------------------------------------------------------


def test_it_cancels_a_video(upstream):
    upstream.on("POST", "videos/cancel", answer(body={"videoId": VIDEO_ID, "status": 3}))

    provider.cancel(CREDENTIALS, VIDEO_ID)

    (call,) = upstream.calls
    assert call.kwargs["json"] == {"videoId": VIDEO_ID}


# --- find_lost ---------------------------------------------------------------------------

SINCE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
AFTER_MS = int((SINCE + timedelta(seconds=5)).timestamp() * 1000)
BEFORE_MS = int((SINCE - timedelta(minutes=5)).timestamp() * 1000)


def listed(video_id: str, **fields: Any) -> dict[str, Any]:
    return {"videoId": video_id, "status": 12, "templateId": RUN_FOR_LIFE, **fields}


def find(**overrides: Any):
    arguments: dict[str, Any] = {"reference": "job-1", "template_id": RUN_FOR_LIFE, "since": SINCE}
    arguments.update(overrides)
    return provider.find_lost(CREDENTIALS, **arguments)


@pytest.mark.parametrize("wrap", [lambda jobs: jobs, lambda jobs: {"jobs": jobs}])
def test_it_finds_a_lost_video_in_the_scheduler_by_reply_ref(upstream, wrap):
    jobs = [
        {
            "videoId": "user:123-minimax:1-video:1",
            "replyRef": "job-0",
            "started": "2026-01-01T12:00:01Z",
        },
        {"videoId": VIDEO_ID, "replyRef": "job-1", "started": "2026-01-01T12:00:02Z"},
    ]
    upstream.on("GET", "scheduler/", answer(body=wrap(jobs)))

    found = find()

    assert found is not None
    assert (found.task_id, found.data) == (VIDEO_ID, {"video_id": VIDEO_ID})
    assert [c.path for c in upstream.calls] == ["scheduler/"]


def test_it_finds_a_lost_video_in_the_listing_by_reply_ref(upstream):
    upstream.on("GET", "scheduler/", answer(body=[]))
    upstream.on(
        "GET",
        "videos/",
        answer(
            body={
                "videos": [
                    listed("user:123-minimax:1-video:9", replyRef="job-9", createTime=AFTER_MS),
                    listed(
                        VIDEO_ID,
                        replyRef="job-1",
                        status=2,
                        createTime=AFTER_MS,
                        videoURL="https://cdn.test/v.mp4",
                    ),
                ]
            }
        ),
    )

    found = find()

    assert found is not None
    assert found.task_id == VIDEO_ID
    assert found.data == {"video_id": VIDEO_ID, "video_url": "https://cdn.test/v.mp4"}
    assert found.data["video_id"] == found.task_id


def test_it_passes_the_account_to_the_listing(upstream):
    upstream.on("GET", "scheduler/", answer(body=[])).on("GET", "videos/", answer(body=[]))

    provider.find_lost(
        Credentials(secret=SECRET, account="1000001"),
        reference="job-1",
        template_id=RUN_FOR_LIFE,
        since=SINCE,
    )

    assert upstream.calls_to("GET", "videos/")[0].params == {"limit": 50, "account": "1000001"}


def test_it_adopts_the_single_candidate_of_a_listing_without_reply_refs(upstream):
    upstream.on("GET", "scheduler/", answer(body=[]))
    upstream.on(
        "GET",
        "videos/",
        answer(
            body=[
                listed(VIDEO_ID, createTime=AFTER_MS),
                listed("user:123-minimax:1-video:8", templateId="other", createTime=AFTER_MS),
                listed("user:123-minimax:1-video:7", createTime=BEFORE_MS),
            ]
        ),
    )

    found = find()

    assert found is not None and found.task_id == VIDEO_ID


def test_it_adopts_nothing_when_two_videos_could_be_the_lost_one(upstream):
    upstream.on("GET", "scheduler/", answer(body=[]))
    upstream.on(
        "GET",
        "videos/",
        answer(
            body=[
                listed(VIDEO_ID, createTime=AFTER_MS),
                listed("user:123-minimax:1-video:8", createTime=AFTER_MS + 1000),
            ]
        ),
    )

    assert find() is None


def test_it_does_not_fall_back_when_the_listing_shows_reply_refs(upstream):
    upstream.on("GET", "scheduler/", answer(body=[]))
    upstream.on(
        "GET", "videos/", answer(body=[listed(VIDEO_ID, replyRef="job-2", createTime=AFTER_MS)])
    )

    assert find() is None


def test_it_finds_nothing_when_no_video_is_listed(upstream):
    upstream.on("GET", "scheduler/", answer(body={"jobs": []}))
    upstream.on("GET", "videos/", answer(body={"videos": []}))

    assert find() is None


def test_it_goes_on_to_the_listing_when_the_scheduler_is_refused(upstream):
    upstream.on("GET", "scheduler/", answer(404, {"error": "not found"}))
    upstream.on("GET", "videos/", answer(body=[listed(VIDEO_ID, replyRef="job-1")]))

    found = find()

    assert found is not None and found.task_id == VIDEO_ID


def test_it_pages_the_listing_back_to_the_create(upstream, monkeypatch):
    monkeypatch.setattr(useapi, "LISTING_PAGE", 2)
    page1 = [
        listed("user:123-minimax:1-video:20", replyRef="job-20", createTime=AFTER_MS + 9000),
        listed("user:123-minimax:1-video:19", replyRef="job-19", createTime=AFTER_MS + 8000),
    ]
    page2 = [
        listed(VIDEO_ID, replyRef="job-1", createTime=AFTER_MS),
        listed("user:123-minimax:1-video:5", replyRef="job-5", createTime=BEFORE_MS),
    ]
    upstream.on("GET", "scheduler/", answer(body=[]))
    upstream.on("GET", "videos/", answer(body=page1), answer(body=page2))

    found = find()

    assert found is not None and found.task_id == VIDEO_ID
    listing = upstream.calls_to("GET", "videos/")
    assert [c.params.get("lastVideoId") for c in listing] == [None, "user:123-minimax:1-video:19"]


def test_it_raises_rejected_credentials_while_looking(upstream):
    upstream.on("GET", "scheduler/", answer(401, {"error": "Unauthorized"}))

    with pytest.raises(CredentialsRejected):
        find()


# --- catalogue ---------------------------------------------------------------------------


def template_item(template_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"card-{template_id}",
        "cardType": 1,
        "videoAsset": {
            "desc": f"{name} description",
            "title": f"{name} video",
            "coverURL": f"https://cdn.test/{template_id}.png",
            "videoURL": f"https://cdn.test/{template_id}.mp4",
            "agentTemplateID": template_id,
            "agentTemplateName": name,
        },
        **extra,
    }


def templates_upstream(
    pages: Sequence[object], details: dict[str, FakeResponse]
) -> Callable[[Call], FakeResponse]:
    pages_left = list(pages)

    def reply(call: Call) -> FakeResponse:
        template_id = call.params.get("templateId")
        if template_id is not None:
            return details.get(template_id) or answer(404, {"error": "not found"})
        return answer(body=pages_left.pop(0))

    return reply


def test_it_pages_through_the_catalogue_and_reads_the_details(upstream):
    pages = [
        {
            "videoList": [
                template_item(RUN_FOR_LIFE, "Run for Life"),
                template_item("392747428568649728", "Diving"),
            ],
            "hasMore": True,
            "lastId": "card-392747428568649728",
        },
        {
            "videoList": [
                template_item("394875727173492739", "Art Fonts", credits=35),
                template_item("500000000000000009", "Gone"),
            ],
            "hasMore": False,
            "lastId": "card-500000000000000009",
        },
    ]
    details = {
        RUN_FOR_LIFE: answer(
            body={
                "template": {
                    "id": RUN_FOR_LIFE,
                    "name": "Run for Life",
                    "inputs": [
                        {"type": "image", "label": "Your photo"},
                        {"type": "text", "label": "A wild beast", "placeholder": "Lion"},
                    ],
                }
            }
        ),
        "392747428568649728": answer(body={"template": {"id": "392747428568649728"}}),
        "394875727173492739": answer(
            body={"template": {"credits": 99, "inputs": [{"type": "TEXT", "placeholder": "Word"}]}}
        ),
    }
    upstream.on("GET", "videos/agent-templates", templates_upstream(pages, details))

    entries = list(provider.catalogue(Credentials(secret=SECRET, account="1000001")))

    assert [(e.template_id, e.name) for e in entries] == [
        (RUN_FOR_LIFE, "Run for Life"),
        ("392747428568649728", "Diving"),
        ("394875727173492739", "Art Fonts"),
        ("500000000000000009", "Gone"),
    ]
    run, diving, fonts, gone = entries
    assert (run.media_inputs, run.text_inputs, run.text_label) == (1, 1, "A wild beast")
    assert run.description == "Run for Life description"
    assert run.cover_url == f"https://cdn.test/{RUN_FOR_LIFE}.png"
    assert run.preview_url == f"https://cdn.test/{RUN_FOR_LIFE}.mp4"
    assert run.credits is None
    assert (diving.media_inputs, diving.text_inputs, diving.text_label) == (None, None, "")
    assert (fonts.media_inputs, fonts.text_inputs, fonts.text_label) == (0, 1, "Word")
    assert fonts.credits == 35  # the listing's own figure first
    assert (gone.media_inputs, gone.text_inputs) == (None, None)
    listings = [c.params for c in upstream.calls if "templateId" not in c.params]
    assert listings == [
        {"limit": 30, "account": "1000001"},
        {"limit": 30, "account": "1000001", "lastId": "card-392747428568649728"},
    ]
    assert {c.params.get("account") for c in upstream.calls} == {"1000001"}


def test_it_reads_a_bare_template_list_and_a_bare_detail(upstream):
    pages = [[{"id": "777", "name": "Plain", "credits": "12.5"}]]
    details = {"777": answer(body={"name": "Plain", "inputs": [{"type": "image", "label": "x"}]})}
    upstream.on("GET", "videos/agent-templates", templates_upstream(pages, details))

    (entry,) = provider.catalogue(CREDENTIALS)

    assert (entry.template_id, entry.name, entry.credits) == ("777", "Plain", 12.5)
    assert (entry.media_inputs, entry.text_inputs) == (1, 0)


def test_it_stops_paging_when_a_page_brings_nothing_new(upstream):
    page = {"videoList": [template_item("1", "One")], "hasMore": True, "lastId": "x"}
    upstream.on(
        "GET",
        "videos/agent-templates",
        templates_upstream([page, {**page, "lastId": "y"}], {}),
    )

    assert [e.template_id for e in provider.catalogue(CREDENTIALS)] == ["1"]


def test_it_caps_the_number_of_catalogue_pages(upstream, monkeypatch):
    monkeypatch.setattr(useapi, "CATALOGUE_MAX_PAGES", 3)
    counter = iter(range(1000))

    def endless(call: Call) -> FakeResponse:
        if "templateId" in call.params:
            return answer(404, {"error": "not found"})
        n = next(counter)
        return answer(
            body={"videoList": [template_item(str(n), "T")], "hasMore": True, "lastId": str(n)}
        )

    upstream.on("GET", "videos/agent-templates", endless)

    assert len(list(provider.catalogue(CREDENTIALS))) == 3


def test_it_lists_nothing_for_an_empty_catalogue(upstream):
    upstream.on("GET", "videos/agent-templates", answer(body={"videoList": [], "hasMore": False}))

    assert list(provider.catalogue(CREDENTIALS)) == []


def test_it_raises_transient_errors_of_the_catalogue(upstream):
    upstream.on("GET", "videos/agent-templates", answer(502, {"error": "bad gateway"}))

    with pytest.raises(TransientError):
        list(provider.catalogue(CREDENTIALS))


@pytest.mark.parametrize(
    ("credits", "rate", "cents"),
    [(35, 1.0, 35), (35, 1.5, 53), ("0.1", 3.0, 1), (0, 2.0, 0), (None, 2.0, 50)],
)
def test_it_prices_templates_from_their_credits_else_the_default(
    upstream, settings, credits, rate, cents
):
    settings.USEAPI_CENTS_PER_CREDIT = rate
    settings.USEAPI_DEFAULT_PRICE_CENTS = 50
    item = {"id": "777", "name": "Priced"}
    if credits is not None:
        item["credits"] = credits
    upstream.on("GET", "videos/agent-templates", templates_upstream([[item]], {}))

    (entry,) = provider.catalogue(CREDENTIALS)

    assert entry.price_cents == cents
    assert entry.credits == (None if credits is None else float(credits))
