"""The MiniMax provider (videos.providers.minimax): requests sent, answers parsed, errors
classified, the key kept secret. Against the scripted fake upstream (no network, no database).

Ported from the tests of the old client (videos/minimax.py). Where the provider behaves
differently on purpose, the test asserts the new behaviour and a comment says so.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from http.client import RemoteDisconnected

import pytest
import requests
import urllib3.exceptions

from portal.errors import FieldError
from tests.conftest import SECRET
from tests.fakes import FakeResponse, FakeUpstream, code, ok
from videos.providers import minimax
from videos.providers.base import (
    CallbackHint,
    CallbackReply,
    Credentials,
    MediaInput,
    Progress,
    State,
    SubmitRequest,
    Submitted,
)
from videos.providers.errors import (
    AmbiguousCreate,
    CredentialsRejected,
    InsufficientBalance,
    Moderated,
    PermanentError,
    RateLimited,
    TransientError,
    UpstreamError,
)

BASE = "https://api.minimax.test"
CN_BASE = "https://cn.minimax.test"
CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"
FILES = "/v1/files/retrieve"
# A refused connection as urllib3 reports it: nothing was sent.
REFUSED = requests.ConnectionError(
    urllib3.exceptions.MaxRetryError(
        None, "/", urllib3.exceptions.NewConnectionError(None, "refused")
    )
)
DIVING = "392747428568649728"
RUN_FOR_LIFE = "393769180141805569"
TIMEOUT = (3, 17)
CREATE_TIMEOUT = (3, 45)
CREDENTIALS = Credentials(secret=SECRET, region="global")
LOGGER = "videos.providers.minimax"
PNG = b"\x89PNG\r\n\x1a\n fake image bytes"

provider = minimax.provider


@pytest.fixture(autouse=True)
def _sites(settings):
    # A trailing slash on the configured site must not double the slash of the paths.
    settings.MINIMAX_BASE_URL = BASE + "/"
    settings.MINIMAX_CN_BASE_URL = CN_BASE + "/"
    settings.UPSTREAM_TIMEOUT = TIMEOUT
    settings.UPSTREAM_CREATE_TIMEOUT = CREATE_TIMEOUT


def media(url: str = "https://x.test/a.png", read=None, content_type="image/png") -> MediaInput:
    return MediaInput(position=0, content_type=content_type, url=url, read=read)


def request(**overrides) -> SubmitRequest:
    fields = {
        "template_id": DIVING,
        "text_inputs": [],
        "media": [media()],
        "callback_url": "",
        "reference": "job-1",
    }
    fields.update(overrides)
    return SubmitRequest(**fields)


def submit(credentials: Credentials = CREDENTIALS, **overrides) -> Submitted:
    return provider.submit(credentials, request(**overrides))


def submit_error(credentials: Credentials = CREDENTIALS) -> UpstreamError:
    with pytest.raises(UpstreamError) as excinfo:
        submit(credentials)
    return excinfo.value


def status_error() -> UpstreamError:
    with pytest.raises(UpstreamError) as excinfo:
        provider.status(CREDENTIALS, "t-1", {})
    return excinfo.value


# --- error classification: every code of upstream FACTS ------------------------------------


@pytest.mark.parametrize("status_code", [1000, 1001, 1024, 1033, 1041])
def test_it_classifies_transient_codes(upstream, status_code):
    upstream.on(CREATE, code(status_code, "try later"))
    error = submit_error()
    assert type(error) is TransientError
    assert error.code == str(status_code)
    assert error.trace_id == "trace-123"
    assert error.message


@pytest.mark.parametrize("status_code", [1002, 2045, 2056])
def test_it_classifies_rate_limits_as_rate_limited_with_a_wait(upstream, status_code):
    # New: RateLimited (a TransientError) rather than a plain TransientError.
    upstream.on(CREATE, code(status_code, "slow down"))
    error = submit_error()
    assert type(error) is RateLimited
    assert isinstance(error, TransientError)
    assert error.code == str(status_code)
    assert error.retry_after > 0
    assert error.trace_id == "trace-123"


def test_it_waits_longest_for_the_5_hour_usage_window(upstream):
    waits = {}
    for status_code in (1002, 2045, 2056):
        upstream.answers.clear()
        upstream.on(CREATE, code(status_code))
        waits[status_code] = submit_error().retry_after
    assert waits[2056] >= 600
    assert waits[2056] > waits[1002]


@pytest.mark.parametrize("status_code", [1004, 2049])
def test_it_classifies_a_rejected_key(upstream, status_code):
    upstream.on(CREATE, code(status_code, "invalid api key"))
    error = submit_error()
    assert type(error) is CredentialsRejected
    assert isinstance(error, PermanentError)
    assert error.code == str(status_code)
    assert "key" in error.message.lower()
    assert error.trace_id == "trace-123"


def test_it_classifies_insufficient_balance(upstream):
    # New: InsufficientBalance (a PermanentError) rather than a plain PermanentError.
    upstream.on(CREATE, code(1008, "insufficient balance"))
    error = submit_error()
    assert type(error) is InsufficientBalance
    assert isinstance(error, PermanentError)
    assert error.code == "1008"


@pytest.mark.parametrize("status_code", [1026, 1027])
def test_it_classifies_moderation(upstream, status_code):
    # New: Moderated (a PermanentError) rather than a plain PermanentError.
    upstream.on(CREATE, code(status_code, "sensitive"))
    error = submit_error()
    assert type(error) is Moderated
    assert isinstance(error, PermanentError)
    assert error.code == str(status_code)


@pytest.mark.parametrize("status_code", [1039, 1042, 2013, 2038, 1003, 1234, 9999, 2, -1])
def test_it_classifies_other_permanent_and_unknown_codes(upstream, status_code):
    upstream.on(CREATE, code(status_code, "no"))
    error = submit_error()
    assert type(error) is PermanentError
    assert error.code == str(status_code)
    assert error.trace_id == "trace-123"


@pytest.mark.parametrize(
    ("status_code", "error_class"),
    [
        (1000, TransientError),
        (1001, TransientError),
        (1024, TransientError),
        (1033, TransientError),
        (1041, TransientError),
        (1002, RateLimited),
        (2045, RateLimited),
        (2056, RateLimited),
        (1004, CredentialsRejected),
        (2049, CredentialsRejected),
        (1008, InsufficientBalance),
        (1026, Moderated),
        (1027, Moderated),
        (1039, PermanentError),
        (1042, PermanentError),
        (2013, PermanentError),
        (2038, PermanentError),
        (4242, PermanentError),
    ],
)
def test_it_classifies_every_code_in_one_place(status_code, error_class):
    error = minimax.classify(status_code, "said", "tr-1")
    assert type(error) is error_class
    assert error.code == str(status_code)
    assert error.trace_id == "tr-1"
    assert error.message.endswith("(said)")


@pytest.mark.parametrize(
    ("status_code", "words"),
    [
        (1008, "insufficient balance"),
        (1026, "sensitive"),
        (1027, "sensitive"),
        (1042, "invisible characters"),
        (2013, "parameters"),
        (2038, "real-name verification"),
        (2056, "5-hour window"),
    ],
)
def test_it_gives_a_clear_message_per_code(upstream, status_code, words):
    upstream.on(CREATE, code(status_code))
    assert words in submit_error().message


def test_it_keeps_the_upstream_message_in_the_error(upstream):
    upstream.on(CREATE, code(2013, "invalid params, template_id"))
    error = submit_error()
    assert "invalid params, template_id" in error.message
    assert str(error).startswith("[2013] ")


def test_it_cuts_a_long_upstream_message(upstream):
    upstream.on(CREATE, code(2013, "x" * 1000))
    assert "x" * 200 in submit_error().message
    assert "x" * 201 not in submit_error().message


# --- HTTP and transport failures ----------------------------------------------------------


@pytest.mark.parametrize("http_status", [500, 502, 503, 504])
def test_it_treats_5xx_as_transient_and_as_ambiguous_for_a_create(upstream, http_status):
    # A gateway may have passed the create on before failing: no idempotency upstream.
    upstream.on(CREATE, FakeResponse(status_code=http_status, content=b"busy"))
    upstream.on(QUERY, FakeResponse(status_code=http_status, content=b"busy"))
    error = submit_error()
    assert type(error) is AmbiguousCreate
    assert error.code == f"http_{http_status}"
    assert error.trace_id == "trace-123"
    assert type(status_error()) is TransientError


def test_it_treats_429_as_rate_limited(upstream):
    # New: RateLimited (a TransientError) rather than a plain TransientError.
    upstream.on(CREATE, FakeResponse(status_code=429, content=b"busy"))
    error = submit_error()
    assert type(error) is RateLimited
    assert isinstance(error, TransientError)
    assert error.code == "http_429"


@pytest.mark.parametrize("http_status", [429, 503])
def test_it_honours_retry_after(upstream, http_status):
    answer = FakeResponse(status_code=http_status, content=b"", headers={"Retry-After": "42"})
    upstream.on(CREATE, answer)
    assert submit_error().retry_after == 42


@pytest.mark.parametrize("retry_after", ["", "soon", "Wed, 21 Oct 2026 07:28:00 GMT", "-5"])
def test_it_ignores_a_retry_after_that_is_not_seconds(upstream, retry_after):
    answer = FakeResponse(status_code=429, content=b"", headers={"Retry-After": retry_after})
    upstream.on(CREATE, answer)
    assert submit_error().retry_after == 0


@pytest.mark.parametrize("http_status", [400, 401, 403, 404, 405, 422])
def test_it_treats_other_4xx_as_permanent(upstream, http_status):
    upstream.on(CREATE, FakeResponse(status_code=http_status, content=b"no"))
    error = submit_error()
    assert type(error) is PermanentError
    assert error.code == f"http_{http_status}"


@pytest.mark.parametrize(
    "exc", [requests.Timeout("read timed out"), requests.ReadTimeout("read timed out")]
)
def test_it_treats_a_read_timeout_on_the_create_as_ambiguous(upstream, exc):
    # New: the create went out and may have made (and billed) a task, so the caller must
    # look for it before creating again; the old client said plain TransientError.
    upstream.on(CREATE, exc)
    error = submit_error()
    assert type(error) is AmbiguousCreate
    assert isinstance(error, TransientError)
    assert error.code == "timeout"


@pytest.mark.parametrize(
    ("exc", "error_code"),
    [
        (requests.ConnectTimeout("connect timed out"), "connection"),
        (REFUSED, "connection"),
    ],
)
def test_it_treats_a_create_that_never_connected_as_transient(upstream, exc, error_code):
    upstream.on(CREATE, exc)
    error = submit_error()
    assert type(error) is TransientError
    assert error.code == error_code


@pytest.mark.parametrize(
    ("exc", "error_code"),
    [
        (requests.Timeout("read timed out"), "timeout"),
        (requests.ReadTimeout("read timed out"), "timeout"),
        (requests.ConnectTimeout("connect timed out"), "connection"),
        (requests.ConnectionError("refused"), "connection"),
    ],
)
def test_it_treats_timeouts_and_connection_errors_on_a_query_as_transient(
    upstream, exc, error_code
):
    upstream.on(QUERY, exc)
    error = status_error()
    assert type(error) is TransientError
    assert error.code == error_code


@pytest.mark.parametrize(
    "response",
    [
        FakeResponse(content=b"<html>Bad gateway</html>"),
        FakeResponse(body=["not", "an", "object"]),
        FakeResponse(body={"base_resp": {"status_code": "abc"}}),
        FakeResponse(body={"base_resp": {"status_code": None}}),
        FakeResponse(body={"base_resp": "broken"}),
    ],
)
@pytest.mark.parametrize("path", [CREATE, QUERY])
def test_it_treats_a_non_json_answer_as_transient(upstream, response, path):
    upstream.on(path, response)
    error = submit_error() if path == CREATE else status_error()
    # Something answered the create, just not with MiniMax's JSON: the task may exist.
    assert type(error) is (AmbiguousCreate if path == CREATE else TransientError)
    assert error.code == "bad_answer"
    assert error.trace_id == "trace-123"


@pytest.mark.parametrize("answer", [ok(), ok(task_id=""), ok(task_id=None)])
def test_it_treats_a_create_answer_without_task_id_as_ambiguous(upstream, answer):
    # New: AmbiguousCreate (a TransientError): the upstream said yes, so a task may exist.
    upstream.on(CREATE, answer)
    error = submit_error()
    assert type(error) is AmbiguousCreate
    assert error.code == "no_task_id"


# --- status parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        # the query's spellings
        ("Preparing", State.PENDING),
        ("Queueing", State.PENDING),
        ("Processing", State.RUNNING),
        ("Success", State.SUCCEEDED),
        ("Fail", State.FAILED),
        # the callback's spellings
        ("processing", State.RUNNING),
        ("success", State.SUCCEEDED),
        ("failed", State.FAILED),
        # and whatever else the case or the padding
        ("Failed", State.FAILED),
        ("FAIL", State.FAILED),
        ("SUCCESS", State.SUCCEEDED),
        ("Succeeded", State.SUCCEEDED),
        ("preparing", State.PENDING),
        ("queueing", State.PENDING),
        (" Success ", State.SUCCEEDED),
    ],
)
def test_it_parses_every_status_spelling(raw, state):
    assert minimax.parse_state(raw) is state


@pytest.mark.parametrize("raw", ["", None, "Finished", "done", "Successful", "cancelled"])
def test_it_does_not_guess_unknown_statuses(raw):
    assert minimax.parse_state(raw) is None


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("Fail", State.FAILED),
        ("failed", State.FAILED),
        ("success", State.SUCCEEDED),
        ("Preparing", State.PENDING),
    ],
)
def test_it_parses_query_statuses_case_insensitively(upstream, raw, state):
    upstream.on(QUERY, ok(task_id="t-1", status=raw))
    progress = provider.status(CREDENTIALS, "t-1", {})
    assert progress.state is state
    assert progress.raw_status == raw


@pytest.mark.parametrize("answer", [ok(task_id="t-1", status="Exploded"), ok(task_id="t-1")])
def test_it_treats_an_unknown_query_status_as_transient(upstream, answer):
    upstream.on(QUERY, answer)
    error = status_error()
    assert type(error) is TransientError
    assert error.code == "unknown_status"


def test_it_reads_a_callback_push_like_a_query_answer():
    body = {"task_id": "t-1", "status": "success", "file_id": 77, "base_resp": {}}
    assert minimax.progress_from_body(body) == Progress(
        state=State.SUCCEEDED,
        raw_status="success",
        data={"video_url": "", "file_id": "77"},
    )
    failed = minimax.progress_from_body({"task_id": "t-1", "status": "failed"})
    assert failed.state is State.FAILED
    assert failed.error_code == "upstream_failed"
    with pytest.raises(TransientError) as excinfo:
        minimax.progress_from_body({"task_id": "t-1", "status": "finished"})
    assert excinfo.value.code == "unknown_status"
    assert "'finished'" in excinfo.value.message


# --- submit ---------------------------------------------------------------------------------


def test_it_creates_a_task_with_bearer_auth_and_the_documented_body(upstream):
    upstream.on(CREATE, ok(task_id="401047179385389059"))
    submitted = provider.submit(
        CREDENTIALS,
        SubmitRequest(
            template_id=RUN_FOR_LIFE,
            text_inputs=["Lion"],
            media=[media(url="https://x.test/me.png")],
            callback_url="https://portal.test/callbacks/minimax/tok/",
            reference="job-1",
        ),
    )
    assert submitted == Submitted(task_id="401047179385389059")
    [call] = upstream.calls
    assert call["method"] == "POST"
    assert call["url"] == BASE + CREATE
    assert call["headers"]["Authorization"] == f"Bearer {SECRET}"
    # The reference is not sent: the official API echoes none back.
    assert call["json"] == {
        "template_id": RUN_FOR_LIFE,
        "text_inputs": [{"value": "Lion"}],
        "media_inputs": [{"value": "https://x.test/me.png"}],
        "callback_url": "https://portal.test/callbacks/minimax/tok/",
    }
    # New: the create has its own (longer) read timeout.
    assert call["timeout"] == CREATE_TIMEOUT


def test_it_sends_no_callback_url_when_none_is_given(upstream):
    upstream.on(CREATE, ok(task_id="t-1"))
    submit()
    body = upstream.calls[0]["json"]
    assert "callback_url" not in body
    assert body == {"template_id": DIVING, "media_inputs": [{"value": "https://x.test/a.png"}]}


def test_it_sends_no_media_inputs_when_there_are_none(upstream):
    upstream.on(CREATE, ok(task_id="t-1"))
    submit(media=[], text_inputs=["Lion", "Tiger"])
    assert upstream.calls[0]["json"] == {
        "template_id": DIVING,
        "text_inputs": [{"value": "Lion"}, {"value": "Tiger"}],
    }


def test_it_sends_a_stored_image_without_url_inline_as_a_data_url(upstream):
    # New: the provider gets MediaInputs, not ready-made values; one with no URL the upstream
    # can fetch is sent as its bytes in a data URL.
    upstream.on(CREATE, ok(task_id="t-1"))
    submit(media=[media(url="", read=lambda: PNG, content_type="image/png")])
    [value] = upstream.calls[0]["json"]["media_inputs"]
    assert value == {"value": "data:image/png;base64," + base64.b64encode(PNG).decode()}


def test_it_sends_the_url_of_an_image_that_has_one_without_reading_it(upstream):
    def read() -> bytes:
        raise AssertionError("the image was read although it has a URL")

    upstream.on(CREATE, ok(task_id="t-1"))
    submit(media=[media(url="https://portal.test/inputs/signed/", read=read)])
    [value] = upstream.calls[0]["json"]["media_inputs"]
    assert value == {"value": "https://portal.test/inputs/signed/"}


def test_it_returns_the_task_id_as_a_string(upstream):
    upstream.on(CREATE, ok(task_id=401047179385389059))
    assert submit().task_id == "401047179385389059"


def test_it_sets_explicit_timeouts_on_every_call(upstream):
    upstream.on(CREATE, ok(task_id="t-1"))
    upstream.on(QUERY, ok(task_id="t-1", status="Success", video_url="https://cdn.test/v.mp4"))
    upstream.on(FILES, ok(file={"file_id": "f-1", "download_url": "https://cdn.test/f.mp4"}))
    upstream.on("/f.mp4", FakeResponse(content=b"video"))
    upstream.on("/v.mp4", FakeResponse(content=b"video"))
    upstream.on("/poster.jpg", FakeResponse(content=b"image"))
    submit()
    provider.status(CREDENTIALS, "t-1", {})
    provider.open_result(CREDENTIALS, "t-1", {"file_id": "f-1"})
    provider.open_result(CREDENTIALS, "t-1", {"video_url": "https://cdn.test/v.mp4"})
    provider.open_artifact("https://cdn.test/poster.jpg")
    provider.check_key(CREDENTIALS)  # an ok answer: the key authenticates
    assert [call["path"] for call in upstream.calls] == [
        CREATE,
        QUERY,
        FILES,
        "/f.mp4",
        "/v.mp4",
        "/poster.jpg",
        QUERY,
    ]
    # New: the create waits longer (UPSTREAM_CREATE_TIMEOUT); every other call as before.
    assert upstream.calls[0]["timeout"] == CREATE_TIMEOUT
    assert all(call["timeout"] == TIMEOUT for call in upstream.calls[1:])


# --- status and results ---------------------------------------------------------------------


def test_it_parses_a_query_answer(upstream):
    upstream.on(
        QUERY,
        ok(task_id="t-1", status="Success", video_url="https://cdn.test/v.mp4", file_id="f-9"),
    )
    progress = provider.status(CREDENTIALS, "t-1", {"file_id": "old"})
    # New: neutral Progress; the URLs go into `data`, to be kept in the job's upstream_data.
    assert progress == Progress(
        state=State.SUCCEEDED,
        raw_status="Success",
        data={"video_url": "https://cdn.test/v.mp4", "file_id": "f-9"},
    )
    [call] = upstream.calls
    assert call["method"] == "GET"
    assert call["url"] == BASE + QUERY
    assert call["params"] == {"task_id": "t-1"}
    assert call["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_it_parses_a_processing_answer_without_a_video(upstream):
    upstream.on(QUERY, ok(task_id="t-1", status="Processing"))
    progress = provider.status(CREDENTIALS, "t-1", {})
    assert progress.state is State.RUNNING
    assert progress.data == {"video_url": "", "file_id": ""}
    assert progress.error_code == "" and progress.message == ""


def test_it_parses_a_failed_task(upstream):
    # New: a failed task is a Progress with an error code and a message for the user.
    upstream.on(QUERY, ok(task_id="t-1", status="Fail"))
    progress = provider.status(CREDENTIALS, "t-1", {})
    assert progress.state is State.FAILED
    assert progress.raw_status == "Fail"
    assert progress.error_code == "upstream_failed"
    assert progress.message


def test_it_classifies_errors_on_query_too(upstream):
    upstream.on(QUERY, code(2049, "invalid api key"))
    with pytest.raises(CredentialsRejected):
        provider.status(CREDENTIALS, "t-1", {})


def test_it_downloads_a_file_by_its_download_url(upstream):
    upstream.on(
        FILES,
        ok(
            file={
                "file_id": 77,
                "bytes": 1234,
                "created_at": 1700000000,
                "filename": "output.mp4",
                "purpose": "video_generation",
                "download_url": "https://cdn.test/output.mp4?sig=1",
            }
        ),
    )
    upstream.on(
        "/output.mp4",
        FakeResponse(
            content=b"video bytes",
            headers={"Content-Type": "video/mp4; charset=binary", "Content-Length": "11"},
        ),
    )
    # The file id wins over a video_url kept from an earlier answer.
    stream = provider.open_result(
        CREDENTIALS, "t-1", {"file_id": 77, "video_url": "https://cdn.test/old.mp4"}
    )
    assert stream.content_type == "video/mp4"
    assert stream.length == 11
    assert b"".join(stream.chunks) == b"video bytes"
    stream.close()
    files, download = upstream.calls
    assert files["url"] == BASE + FILES
    assert files["params"] == {"file_id": "77"}
    assert files["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert download["url"] == "https://cdn.test/output.mp4?sig=1"
    assert download["stream"] is True


def test_it_downloads_the_video_url_when_there_is_no_file_id(upstream):
    upstream.on("/v.mp4", FakeResponse(content=b"video"))
    stream = provider.open_result(
        CREDENTIALS, "t-1", {"video_url": "https://cdn.test/v.mp4", "file_id": ""}
    )
    assert b"".join(stream.chunks) == b"video"
    [call] = upstream.calls
    assert call["url"] == "https://cdn.test/v.mp4"


def test_it_treats_a_file_without_download_url_as_transient(upstream):
    upstream.on(FILES, ok(file={"file_id": "77"}))
    with pytest.raises(TransientError) as excinfo:
        provider.open_result(CREDENTIALS, "t-1", {"file_id": "77"})
    assert type(excinfo.value) is TransientError
    assert excinfo.value.code == "no_download_url"
    assert [call["path"] for call in upstream.calls] == [FILES]


def test_it_classifies_errors_on_files_too(upstream):
    upstream.on(FILES, code(1004, "authorization failed"))
    with pytest.raises(CredentialsRejected):
        provider.open_result(CREDENTIALS, "t-1", {"file_id": "77"})


def test_it_treats_a_result_without_any_url_as_transient(upstream):
    with pytest.raises(TransientError) as excinfo:
        provider.open_result(CREDENTIALS, "t-1", {})
    assert excinfo.value.code == "no_url"
    assert upstream.calls == []


@pytest.mark.parametrize("http_status", [403, 404, 410, 500])
def test_it_treats_a_failed_download_as_transient(upstream, http_status):
    answer = FakeResponse(status_code=http_status, content=b"expired")
    upstream.on("/v.mp4", answer)
    with pytest.raises(TransientError) as excinfo:
        provider.open_result(CREDENTIALS, "t-1", {"video_url": "https://cdn.test/v.mp4"})
    assert excinfo.value.code == f"http_{http_status}"
    assert answer.closed


@pytest.mark.parametrize(
    ("exc", "error_code"),
    [(requests.ReadTimeout("slow"), "timeout"), (requests.ConnectionError("down"), "connection")],
)
def test_it_treats_a_broken_download_as_transient(upstream, exc, error_code):
    upstream.on("/v.mp4", exc)
    with pytest.raises(TransientError) as excinfo:
        provider.open_result(CREDENTIALS, "t-1", {"video_url": "https://cdn.test/v.mp4"})
    assert excinfo.value.code == error_code


def test_it_sends_the_key_only_to_the_api_not_to_the_cdn(upstream):
    upstream.on(FILES, ok(file={"file_id": "f-1", "download_url": "https://cdn.test/f.mp4"}))
    upstream.on("/f.mp4", FakeResponse(content=b"video"))
    upstream.on("/v.mp4", FakeResponse(content=b"video"))
    upstream.on("/poster.jpg", FakeResponse(content=b"image"))
    provider.open_result(CREDENTIALS, "t-1", {"file_id": "f-1"})
    provider.open_result(CREDENTIALS, "t-1", {"video_url": "https://cdn.test/v.mp4"})
    provider.open_artifact("https://cdn.test/poster.jpg")
    files, *downloads = upstream.calls
    assert files["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert len(downloads) == 3
    for call in downloads:
        assert "Authorization" not in call["headers"]
        assert SECRET not in repr(call)


def test_it_opens_an_artifact(upstream):
    upstream.on(
        "/poster.jpg", FakeResponse(content=b"image", headers={"Content-Type": "image/jpeg"})
    )
    stream = provider.open_artifact("https://cdn.test/poster.jpg")
    assert stream.content_type == "image/jpeg"
    assert b"".join(stream.chunks) == b"image"
    with pytest.raises(TransientError) as excinfo:
        provider.open_artifact("")
    assert excinfo.value.code == "no_url"
    assert "image" in excinfo.value.message


# --- regions --------------------------------------------------------------------------------


def test_it_asks_the_china_host_for_a_cn_key(upstream):
    upstream.on(QUERY, ok(task_id="t-1", status="Processing"))
    provider.status(Credentials(secret=SECRET, region="cn"), "t-1", {})
    assert upstream.calls[0]["url"] == CN_BASE + QUERY
    assert upstream.calls[0]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_it_asks_the_global_host_for_a_global_key(upstream):
    upstream.on(CREATE, ok(task_id="t-1"))
    submit(Credentials(secret=SECRET, region="global"))
    assert upstream.calls[0]["url"] == BASE + CREATE


def test_it_offers_both_regions():
    assert [region.slug for region in provider.regions] == ["global", "cn"]


# --- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "sk-api-abc12345",
        "sk-cp-" + "x" * 100,
        "abcdefgh",  # 8 characters: the shortest accepted
        "x" * 4096,
    ],
)
def test_it_accepts_a_secret_of_the_right_shape(secret):
    assert provider.check_credentials(Credentials(secret=secret)) is None


@pytest.mark.parametrize(
    "secret",
    [
        "sk-api abc12345",  # a space
        " sk-api-abc12345",
        "sk-api-abc12345\n",
        "sk-api-\tabc12345",
        "sk-ключ-1234",  # not ASCII
        "sk-1234",  # 7 characters
        "",
        "x" * 4097,
    ],
)
def test_it_refuses_a_secret_of_the_wrong_shape(secret):
    with pytest.raises(FieldError) as excinfo:
        provider.check_credentials(Credentials(secret=secret))
    assert excinfo.value.field == "secret"
    if secret:
        assert secret not in str(excinfo.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"account": "me@example.com"}, "account"),
        ({"max_jobs": 3}, "max_jobs"),
        ({"max_jobs": 0}, "max_jobs"),
        ({"account": "me@example.com", "max_jobs": 3}, "account"),
    ],
)
def test_it_refuses_options_a_minimax_key_does_not_take(options, field):
    with pytest.raises(FieldError) as excinfo:
        provider.check_credentials(Credentials(secret="sk-api-abc12345", **options))
    assert excinfo.value.field == field


class LatinOneUpstream(FakeUpstream):
    """Encodes header values as http.client does before it sends a byte."""

    def request(self, method, url, headers=None, timeout=None, **kwargs):
        for value in (headers or {}).values():
            value.encode("latin-1")
        return super().request(method, url, headers=headers, timeout=timeout, **kwargs)


@pytest.mark.parametrize("call", ["submit", "status", "check_key"])
def test_it_rejects_a_secret_that_cannot_go_into_a_header(monkeypatch, call):
    # New: an older stored key that check_credentials would refuse ends the job as a rejected
    # key instead of a UnicodeEncodeError escaping from requests.
    fake = LatinOneUpstream()
    monkeypatch.setattr("videos.providers.http.new_session", lambda: fake)
    fake.on(CREATE, ok(task_id="t-1"))
    fake.on(QUERY, ok(task_id="t-1", status="Processing"))
    credentials = Credentials(secret="sk-ключ-1234")
    with pytest.raises(CredentialsRejected) as excinfo:
        if call == "submit":
            provider.submit(credentials, request())
        elif call == "status":
            provider.status(credentials, "t-1", {})
        else:
            provider.check_key(credentials)
    assert excinfo.value.code == "secret"
    assert "ключ" not in str(excinfo.value)
    assert excinfo.value.__suppress_context__
    assert fake.calls == []  # nothing was sent


def test_it_checks_a_key_with_a_harmless_query(upstream):
    upstream.on(QUERY, code(2013, "task not found"))
    assert provider.check_key(CREDENTIALS) is None  # refused parameters: the key authenticates
    [call] = upstream.calls
    assert call["method"] == "GET"
    assert call["url"] == BASE + QUERY
    assert call["params"] == {"task_id": "0"}
    assert call["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert call["timeout"] == TIMEOUT


@pytest.mark.parametrize("status_code", [1004, 2049])
def test_it_reports_a_key_the_upstream_rejects(upstream, status_code):
    upstream.on(QUERY, code(status_code, "invalid api key"))
    with pytest.raises(CredentialsRejected):
        provider.check_key(CREDENTIALS)


@pytest.mark.parametrize(
    ("answer", "error_class"),
    [
        (code(1002, "slow down"), RateLimited),
        (code(1000), TransientError),
        (FakeResponse(status_code=503, content=b"busy"), TransientError),
        (requests.ConnectionError("down"), TransientError),
    ],
)
def test_it_cannot_check_a_key_while_the_upstream_is_unwell(upstream, answer, error_class):
    upstream.on(QUERY, answer)
    with pytest.raises(error_class):
        provider.check_key(CREDENTIALS)


# --- callbacks ------------------------------------------------------------------------------


def test_it_echoes_the_callback_challenge():
    assert provider.read_callback({"challenge": "x"}) == CallbackReply(
        body={"challenge": "x"}, hint=None
    )


@pytest.mark.parametrize("raw", ["processing", "success", "failed", "Fail"])
def test_it_reads_a_callback_push_as_a_hint_only(raw):
    reply = provider.read_callback(
        {"task_id": 401047179385389059, "status": raw, "file_id": "f-1", "base_resp": {}}
    )
    assert reply == CallbackReply(
        body={"status": "success"},
        hint=CallbackHint(task_id="401047179385389059", raw_status=raw, final=raw != "processing"),
    )
    assert minimax.parse_state(reply.hint.raw_status) is not None


def test_it_cuts_what_a_push_says_to_size():
    reply = provider.read_callback({"task_id": "t" * 1000, "status": "s" * 1000})
    assert reply.hint == CallbackHint(task_id="t" * 200, raw_status="s" * 40)
    assert provider.read_callback({}).hint == CallbackHint()


# --- what the official API cannot do --------------------------------------------------------


def test_it_cannot_cancel_a_task(upstream):
    with pytest.raises(PermanentError) as excinfo:
        provider.cancel(CREDENTIALS, "t-1")
    assert type(excinfo.value) is PermanentError
    assert excinfo.value.code == "not_supported"
    assert provider.cancels_running is False
    assert upstream.calls == []


def test_it_cannot_find_a_lost_task(upstream):
    found = provider.find_lost(
        CREDENTIALS, reference="job-1", template_id=DIVING, since=datetime.now(UTC)
    )
    assert found is None
    assert upstream.calls == []


def test_it_lists_no_catalogue(upstream):
    assert list(provider.catalogue(CREDENTIALS)) == []
    assert provider.lists_catalogue is False
    assert upstream.calls == []


# --- logging and secrecy --------------------------------------------------------------------


def test_it_logs_the_trace_id(upstream, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    upstream.on(CREATE, FakeResponse(body=ok(task_id="t-1")._body, headers={"Trace-Id": "tr-42"}))
    submit()
    assert "tr-42" in caplog.text
    assert any(getattr(r, "upstream_trace_id", "") == "tr-42" for r in caplog.records)


def test_it_logs_the_trace_id_of_a_failed_call(upstream, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    answer = code(1008, "insufficient balance")
    answer.headers["Trace-Id"] = "tr-fail-7"
    upstream.on(CREATE, answer)
    error = submit_error()
    assert error.trace_id == "tr-fail-7"
    assert any(
        "tr-fail-7" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records
    )


def test_it_never_shows_the_key_in_a_repr(upstream):
    client = minimax._Client(CREDENTIALS)  # the one object that holds the key during a call
    for text in (repr(CREDENTIALS), str(CREDENTIALS), repr(client), str(client), repr(provider)):
        assert SECRET not in text
    assert BASE in repr(client)


@pytest.mark.parametrize(
    "answer",
    [
        code(1004, "authorization failed"),
        code(2049, "invalid api key"),
        code(1000),
        code(2013, "invalid params"),
        FakeResponse(status_code=500, content=b"oops"),
        FakeResponse(status_code=401, content=b"unauthorized"),
        FakeResponse(content=b"not json"),
        requests.Timeout(f"timeout while sending Authorization: Bearer {SECRET}"),
        requests.ConnectTimeout(f"connect timeout (Bearer {SECRET})"),
        requests.ConnectionError(f"connection refused (Bearer {SECRET})"),
    ],
)
def test_it_never_puts_the_key_in_errors_or_logs(upstream, caplog, answer):
    caplog.set_level(logging.DEBUG)
    upstream.on(CREATE, answer)
    error = submit_error()
    for text in (str(error), repr(error), error.message, repr(error.args)):
        assert SECRET not in text
    # Nor in what a traceback would show of the chain of causes.
    shown = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    while shown is not None:
        assert SECRET not in str(shown)
        shown = shown.__cause__ or (None if shown.__suppress_context__ else shown.__context__)
    assert SECRET not in caplog.text
    for record in caplog.records:
        assert SECRET not in record.getMessage()


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,
        # Not of the sk- shape the log redaction knows: only the provider's own scrub helps.
        "mmx0123456789abcdefXYZ",
    ],
)
@pytest.mark.parametrize("path", [CREATE, QUERY])
def test_it_never_puts_the_key_in_errors_or_logs_when_the_upstream_quotes_it(
    upstream, caplog, secret, path
):
    # The upstream's status_msg is copied into the error (and so into the job's error
    # message); an answer that quotes the key must not carry it further.
    caplog.set_level(logging.DEBUG)
    upstream.on(path, code(1004, f"invalid api key: {secret}"))
    credentials = Credentials(secret=secret)
    with pytest.raises(CredentialsRejected) as excinfo:
        if path == CREATE:
            provider.submit(credentials, request())
        else:
            provider.status(credentials, "t-1", {})
    error = excinfo.value
    assert secret not in str(error)
    assert secret not in error.message
    assert "invalid api key" in error.message
    assert secret not in caplog.text


def test_it_never_logs_the_key_on_success(upstream, caplog):
    caplog.set_level(logging.DEBUG)
    upstream.on(CREATE, ok(task_id="t-1"))
    upstream.on(QUERY, ok(task_id="t-1", status="Processing"))
    submit()
    provider.status(CREDENTIALS, "t-1", {})
    assert [r for r in caplog.records if r.name == LOGGER]  # the calls were logged ...
    assert SECRET not in caplog.text  # ... without the key


# --- What requests raises, always as the provider's own errors ----------------------------


def test_it_treats_a_create_cut_after_sending_as_ambiguous(upstream):
    cut = urllib3.exceptions.ProtocolError(
        "Connection aborted.", RemoteDisconnected("Remote end closed connection without response")
    )
    upstream.on(CREATE, requests.ConnectionError(cut))
    assert type(submit_error()) is AmbiguousCreate


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
        requests.exceptions.ContentDecodingError("bad gzip"),
        requests.exceptions.TooManyRedirects("Exceeded 30 redirects."),
    ],
)
def test_it_raises_only_provider_errors_whatever_requests_raises(upstream, exc):
    upstream.on(QUERY, exc)
    assert isinstance(status_error(), TransientError)


def test_it_rejects_a_secret_with_a_line_break_without_quoting_it(monkeypatch):
    monkeypatch.setattr("videos.providers.http.new_session", requests.Session)
    with pytest.raises(CredentialsRejected) as excinfo:
        # Fails in requests' header check, before any connection is made.
        provider.status(Credentials(secret="sk-api-abc12345\n"), "t-1", {})
    assert "sk-api-abc12345" not in str(excinfo.value)
