"""The one door to MiniMax (videos.minimax): requests sent, answers parsed, errors classified."""

from __future__ import annotations

import logging

import pytest
import requests

from tests.conftest import SECRET
from tests.fakes import FakeResponse, code, ok
from videos import minimax
from videos.minimax import (
    KeyRejectedError,
    MiniMaxClient,
    PermanentError,
    TaskStatus,
    TransientError,
)

BASE = "https://api.minimax.test"
CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"
FILES = "/v1/files/retrieve"
DIVING = "392747428568649728"


@pytest.fixture
def client(upstream, settings) -> MiniMaxClient:
    settings.UPSTREAM_TIMEOUT = (3, 17)
    return MiniMaxClient(base_url=BASE + "/", api_key=SECRET)


def create(client: MiniMaxClient, **kwargs) -> str:
    args = {"template_id": DIVING, "text_inputs": [], "media_inputs": ["https://x.test/a.png"]}
    args.update(kwargs)
    return client.create(**args)


def create_error(client: MiniMaxClient) -> minimax.UpstreamError:
    with pytest.raises(minimax.UpstreamError) as excinfo:
        create(client)
    return excinfo.value


# --- error classification: every code of FACTS.md ------------------------------------------


@pytest.mark.parametrize("status_code", [1000, 1001, 1024, 1033, 1041])
def test_it_classifies_transient_codes(client, upstream, status_code):
    upstream.on(CREATE, code(status_code, "try later"))
    error = create_error(client)
    assert type(error) is TransientError
    assert error.code == str(status_code)
    assert error.trace_id == "trace-123"
    assert error.message


@pytest.mark.parametrize("status_code", [1002, 2045, 2056])
def test_it_classifies_rate_limits_as_transient_with_a_wait(client, upstream, status_code):
    upstream.on(CREATE, code(status_code, "slow down"))
    error = create_error(client)
    assert type(error) is TransientError
    assert error.code == str(status_code)
    assert error.retry_after > 0


def test_it_waits_longest_for_the_5_hour_usage_window(client, upstream):
    waits = {}
    for status_code in (1002, 2045, 2056):
        upstream.answers.clear()
        upstream.on(CREATE, code(status_code))
        waits[status_code] = create_error(client).retry_after
    assert waits[2056] >= 600
    assert waits[2056] > waits[1002]


@pytest.mark.parametrize("status_code", [1004, 2049])
def test_it_classifies_a_rejected_key(client, upstream, status_code):
    upstream.on(CREATE, code(status_code, "invalid api key"))
    error = create_error(client)
    assert isinstance(error, KeyRejectedError)
    assert isinstance(error, PermanentError)
    assert error.code == str(status_code)
    assert "key" in error.message.lower()


@pytest.mark.parametrize(
    "status_code", [1008, 1026, 1027, 1039, 1042, 2013, 2038, 1003, 1234, 9999, 2]
)
def test_it_classifies_permanent_and_unknown_codes(client, upstream, status_code):
    upstream.on(CREATE, code(status_code, "no"))
    error = create_error(client)
    assert type(error) is PermanentError
    assert error.code == str(status_code)


@pytest.mark.parametrize(
    ("status_code", "words"),
    [
        (1008, "insufficient balance"),
        (1026, "sensitive"),
        (1027, "sensitive"),
        (1042, "invisible characters"),
        (2013, "parameters"),
        (2038, "real-name verification"),
    ],
)
def test_it_gives_a_clear_message_per_code(client, upstream, status_code, words):
    upstream.on(CREATE, code(status_code))
    assert words in create_error(client).message


def test_it_keeps_the_upstream_message_in_the_error(client, upstream):
    upstream.on(CREATE, code(2013, "invalid params, template_id"))
    error = create_error(client)
    assert "invalid params, template_id" in error.message
    assert str(error).startswith("[2013] ")


# --- HTTP and transport failures ----------------------------------------------------------


@pytest.mark.parametrize("http_status", [500, 502, 503, 504, 429])
def test_it_treats_5xx_and_429_as_transient(client, upstream, http_status):
    upstream.on(CREATE, FakeResponse(status_code=http_status, content=b"busy"))
    error = create_error(client)
    assert type(error) is TransientError
    assert error.code == f"http_{http_status}"


def test_it_honours_retry_after_on_429(client, upstream):
    upstream.on(CREATE, FakeResponse(status_code=429, content=b"", headers={"Retry-After": "42"}))
    assert create_error(client).retry_after == 42


@pytest.mark.parametrize("http_status", [400, 401, 403, 404, 405, 422])
def test_it_treats_other_4xx_as_permanent(client, upstream, http_status):
    upstream.on(CREATE, FakeResponse(status_code=http_status, content=b"no"))
    error = create_error(client)
    assert type(error) is PermanentError
    assert error.code == f"http_{http_status}"


@pytest.mark.parametrize(
    "exc",
    [
        requests.Timeout("read timed out"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectTimeout("connect timed out"),
        requests.ConnectionError("refused"),
    ],
)
def test_it_treats_timeouts_and_connection_errors_as_transient(client, upstream, exc):
    upstream.on(CREATE, exc)
    assert type(create_error(client)) is TransientError


@pytest.mark.parametrize(
    "response",
    [
        FakeResponse(content=b"<html>Bad gateway</html>"),
        FakeResponse(body=["not", "an", "object"]),
        FakeResponse(body={"base_resp": {"status_code": "abc"}}),
    ],
)
def test_it_treats_a_non_json_answer_as_transient(client, upstream, response):
    upstream.on(CREATE, response)
    error = create_error(client)
    assert type(error) is TransientError
    assert error.code == "bad_answer"


def test_it_treats_a_create_answer_without_task_id_as_transient(client, upstream):
    upstream.on(CREATE, ok())
    assert type(create_error(client)) is TransientError


# --- status parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Preparing", TaskStatus.PREPARING),
        ("Processing", TaskStatus.PROCESSING),
        ("Success", TaskStatus.SUCCESS),
        ("Fail", TaskStatus.FAIL),
        ("processing", TaskStatus.PROCESSING),
        ("success", TaskStatus.SUCCESS),
        ("failed", TaskStatus.FAIL),
        ("Failed", TaskStatus.FAIL),
        ("FAIL", TaskStatus.FAIL),
        ("SUCCESS", TaskStatus.SUCCESS),
        ("preparing", TaskStatus.PREPARING),
        (" Success ", TaskStatus.SUCCESS),
    ],
)
def test_it_parses_every_status_spelling(raw, status):
    assert minimax.parse_status(raw) is status


@pytest.mark.parametrize("raw", ["", "Finished", "done", "Successful"])
def test_it_does_not_guess_unknown_statuses(raw):
    assert minimax.parse_status(raw) is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [("Fail", TaskStatus.FAIL), ("failed", TaskStatus.FAIL), ("success", TaskStatus.SUCCESS)],
)
def test_it_parses_query_statuses_case_insensitively(client, upstream, raw, status):
    upstream.on(QUERY, ok(task_id="t-1", status=raw))
    result = client.query(task_id="t-1")
    assert result.status is status
    assert result.raw_status == raw


def test_it_treats_an_unknown_query_status_as_transient(client, upstream):
    upstream.on(QUERY, ok(task_id="t-1", status="Exploded"))
    with pytest.raises(TransientError):
        client.query(task_id="t-1")


# --- create ---------------------------------------------------------------------------------


def test_it_creates_a_task_with_bearer_auth_and_the_documented_body(client, upstream, settings):
    upstream.on(CREATE, ok(task_id="401047179385389059"))
    task_id = client.create(
        template_id="393769180141805569",
        text_inputs=["Lion"],
        media_inputs=["data:image/png;base64,AAAA"],
        callback_url="https://portal.test/callbacks/minimax/tok/",
    )
    assert task_id == "401047179385389059"
    [call] = upstream.calls
    assert call["method"] == "POST"
    assert call["url"] == BASE + CREATE
    assert call["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert call["json"] == {
        "template_id": "393769180141805569",
        "text_inputs": [{"value": "Lion"}],
        "media_inputs": [{"value": "data:image/png;base64,AAAA"}],
        "callback_url": "https://portal.test/callbacks/minimax/tok/",
    }
    assert call["timeout"] == (3, 17) == settings.UPSTREAM_TIMEOUT


def test_it_sends_no_callback_url_when_none_is_given(client, upstream):
    upstream.on(CREATE, ok(task_id="t-1"))
    create(client)
    body = upstream.calls[0]["json"]
    assert "callback_url" not in body
    assert body == {"template_id": DIVING, "media_inputs": [{"value": "https://x.test/a.png"}]}


def test_it_returns_the_task_id_as_a_string(client, upstream):
    upstream.on(CREATE, ok(task_id=401047179385389059))
    assert create(client) == "401047179385389059"


def test_it_sets_explicit_timeouts_on_every_call(client, upstream):
    upstream.on(CREATE, ok(task_id="t-1"))
    upstream.on(QUERY, ok(task_id="t-1", status="Success", video_url="https://cdn.test/v.mp4"))
    upstream.on(FILES, ok(file={"file_id": "f-1", "download_url": "https://cdn.test/f.mp4"}))
    upstream.on("/v.mp4", FakeResponse(content=b"video"))
    create(client)
    client.query(task_id="t-1")
    client.retrieve_file(file_id="f-1")
    client.open_download("https://cdn.test/v.mp4")
    assert len(upstream.calls) == 4
    assert all(call["timeout"] == (3, 17) for call in upstream.calls)


def test_it_sends_the_key_only_to_the_api_not_to_the_cdn(client, upstream):
    upstream.on("/v.mp4", FakeResponse(content=b"video"))
    client.open_download("https://cdn.test/v.mp4")
    assert "Authorization" not in upstream.calls[0]["headers"]


# --- query and files ----------------------------------------------------------------------


def test_it_parses_a_query_answer(client, upstream):
    upstream.on(
        QUERY,
        ok(task_id="t-1", status="Success", video_url="https://cdn.test/v.mp4", file_id="f-9"),
    )
    result = client.query(task_id="t-1")
    assert result == minimax.TaskResult(
        task_id="t-1",
        status=TaskStatus.SUCCESS,
        raw_status="Success",
        video_url="https://cdn.test/v.mp4",
        file_id="f-9",
    )
    [call] = upstream.calls
    assert call["method"] == "GET"
    assert call["path"] == QUERY
    assert call["params"] == {"task_id": "t-1"}
    assert call["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_it_parses_a_processing_answer_without_a_video(client, upstream):
    upstream.on(QUERY, ok(task_id="t-1", status="Processing"))
    result = client.query(task_id="t-1")
    assert result.status is TaskStatus.PROCESSING
    assert result.video_url == "" and result.file_id == ""


def test_it_classifies_errors_on_query_too(client, upstream):
    upstream.on(QUERY, code(2049, "invalid api key"))
    with pytest.raises(KeyRejectedError):
        client.query(task_id="t-1")


def test_it_parses_a_file_answer(client, upstream):
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
    info = client.retrieve_file(file_id="77")
    assert info == minimax.FileInfo(
        file_id="77",
        download_url="https://cdn.test/output.mp4?sig=1",
        bytes=1234,
        filename="output.mp4",
    )
    assert upstream.calls[0]["params"] == {"file_id": "77"}


def test_it_treats_a_file_without_download_url_as_transient(client, upstream):
    upstream.on(FILES, ok(file={"file_id": "77"}))
    with pytest.raises(TransientError):
        client.retrieve_file(file_id="77")


def test_it_asks_the_china_host_for_a_cn_key(owner, settings, upstream):
    from accounts.services import key_store

    settings.MINIMAX_CN_BASE_URL = "https://cn.minimax.test"
    cn_key = key_store(user=owner, label="CN", secret=SECRET, region="cn")
    upstream.on(QUERY, ok(task_id="t-1", status="Processing"))
    minimax.client_for_key(cn_key).query(task_id="t-1")
    assert upstream.calls[0]["url"] == "https://cn.minimax.test" + QUERY
    assert upstream.calls[0]["headers"]["Authorization"] == f"Bearer {SECRET}"


# --- logging and secrecy --------------------------------------------------------------------


def test_it_logs_the_trace_id(client, upstream, caplog):
    caplog.set_level(logging.INFO, logger="videos.minimax")
    upstream.on(CREATE, FakeResponse(body=ok(task_id="t-1")._body, headers={"Trace-Id": "tr-42"}))
    create(client)
    assert "tr-42" in caplog.text


def test_it_logs_the_trace_id_of_a_failed_call(client, upstream, caplog):
    caplog.set_level(logging.INFO, logger="videos.minimax")
    answer = code(1008, "insufficient balance")
    answer.headers["Trace-Id"] = "tr-fail-7"
    upstream.on(CREATE, answer)
    error = create_error(client)
    assert error.trace_id == "tr-fail-7"
    assert any(
        "tr-fail-7" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records
    )


def test_it_never_shows_the_key_in_its_repr(client):
    assert SECRET not in repr(client)
    assert SECRET not in str(client)
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
        requests.ConnectionError(f"connection refused (Bearer {SECRET})"),
    ],
)
def test_it_never_puts_the_key_in_errors_or_logs(client, upstream, caplog, answer):
    caplog.set_level(logging.DEBUG)
    upstream.on(CREATE, answer)
    error = create_error(client)
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


def test_it_never_puts_the_key_in_errors_or_logs_when_the_upstream_quotes_it(
    client, upstream, caplog
):
    # The upstream's status_msg is copied into the error (and so into the job's error
    # message); an answer that quotes the key must not carry it further.
    caplog.set_level(logging.DEBUG)
    upstream.on(CREATE, code(1004, f"invalid api key: {SECRET}"))
    error = create_error(client)
    assert SECRET not in str(error)
    assert SECRET not in error.message
    assert SECRET not in caplog.text


def test_it_never_logs_the_key_on_success(client, upstream, caplog):
    caplog.set_level(logging.DEBUG)
    upstream.on(CREATE, ok(task_id="t-1"))
    upstream.on(QUERY, ok(task_id="t-1", status="Processing"))
    create(client)
    client.query(task_id="t-1")
    assert caplog.records  # the calls were logged ...
    assert SECRET not in caplog.text  # ... without the key
