"""Every parser, fed what hypothesis makes up: a clear 4xx or a documented success, never a
5xx, and a refused request stores nothing.

Parsers covered: job create (API JSON, API multipart, the portal's multipart form), the
upstream callback view (JSON of any shape, deep nesting, huge bodies, not JSON at all), the
event stream's Last-Event-ID header and `last_event_id` query, the job page's `?after=`,
the job list's cursors, Idempotency-Key headers, and the query parameters of every list
(API and portal, the staff dashboard and its CSVs included).

"Clear" means: an API refusal is JSON `{"detail", "code"}` and a 422 names its `field`; a
portal form shows itself again (200) with the error by its field. "Stores nothing" is checked
by counting jobs, attachments, ledger entries, job events and stored files before and after.
Examples are few per property (EXAMPLES) and deadlines off, so the file stays fast.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.models import LedgerEntry
from tests.apiclient import data_url
from tests.conftest import DIVING
from tests.security.world import png_bytes
from videos.models import Attachment, Job, JobEvent

EXAMPLES = 30
fast = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The database fixtures are made once per test, not per example: each example counts
    # rows before and after itself, so what earlier examples stored does not matter.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: a failure here is reproducible
)

# Text a client can actually send (a lone surrogate cannot be encoded as UTF-8 at all).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
# Header values travel as latin-1 (WSGI); control characters included, they do arrive.
header_text = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=15,
)


def stored() -> tuple[int, ...]:
    files = (
        sum(1 for p in django_settings.MEDIA_ROOT.rglob("*") if p.is_file())
        if (django_settings.MEDIA_ROOT.exists())
        else 0
    )
    return (
        Job.objects.count(),
        Attachment.objects.count(),
        LedgerEntry.objects.count(),
        JobEvent.objects.count(),
        files,
    )


def assert_clear(response, allowed: set[int], *, api: bool = True) -> dict | None:
    status = response.status_code
    event(f"answer {status}")  # --hypothesis-show-statistics: which answers were reached
    assert status < 500, response.content[:2000]
    assert status in allowed, (status, response.content[:2000])
    if not api or status < 400:
        return None
    body = response.json()
    assert body["detail"] and body["code"], body
    if status == 422:
        assert body.get("field"), body  # which input, by name
    return body


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    # Callback URLs are checked by resolving their host: made-up hosts resolve to a public
    # address here, so the examples stay off the network (and fast).
    monkeypatch.setattr("portal.netguard.resolve", lambda host, port: ["93.184.215.14"])


# --- Job create ------------------------------------------------------------------------------

VALID_MEDIA = data_url(png_bytes())
media_values = st.one_of(
    st.just(VALID_MEDIA),
    st.builds(lambda raw: data_url(raw), st.binary(max_size=300)),
    st.builds(lambda raw, kind: data_url(raw, kind), st.binary(max_size=50), text),
    st.sampled_from(
        [
            "https://example.com/photo.png",
            "http://[::1]/x.png",
            "data:image/png;base64,!!!not base64",
            "data:,",
            "data:text/html;base64,PGI+aGk8L2I+",
            "ftp://example.com/a.png",
            "",
        ]
    ),
    text,
)
# A body the API takes, give or take one optional field of any value.
near_valid_bodies = st.fixed_dictionaries(
    {"template_id": st.just(DIVING), "media_inputs": st.just([{"value": VALID_MEDIA}])},
    optional={
        "reference": text,
        "callback_url": st.sampled_from(["https://hooks.example/x", "http://127.0.0.1/x"]),
        "key_id": st.integers(),
        "text_inputs": st.lists(st.fixed_dictionaries({"value": text}), max_size=1),
    },
)
video_bodies = st.one_of(
    near_valid_bodies,
    json_values,
    st.fixed_dictionaries(
        {"template_id": st.one_of(st.just(DIVING), text, json_values)},
        optional={
            "media_inputs": st.one_of(
                st.lists(st.fixed_dictionaries({"value": media_values}), max_size=3),
                json_values,
            ),
            "text_inputs": st.one_of(
                st.lists(st.fixed_dictionaries({"value": text}), max_size=3), json_values
            ),
            "key_id": st.one_of(st.none(), st.integers(), text),
            "callback_url": st.one_of(
                st.none(), text, st.just("https://hooks.example/x"), st.just("http://x")
            ),
            "reference": st.one_of(text, json_values),
            "surprise": json_values,
        },
    ),
)
CREATE_ANSWERS = {201, 400, 402, 409, 413, 422}


@fast
@given(body=video_bodies)
@example(body={"template_id": DIVING, "media_inputs": [{"value": VALID_MEDIA}]})
def test_it_answers_any_json_job_create_clearly(api, key, diving, enqueued, body):
    before = stored()
    response = api.post("/videos", body)
    assert_clear(response, CREATE_ANSWERS)
    if response.status_code != 201:
        assert stored() == before


@fast
@given(raw=st.binary(max_size=200) | st.builds(lambda s: s.encode(), text))
def test_it_answers_a_job_create_body_that_is_not_json_clearly(api, key, diving, enqueued, raw):
    before = stored()
    response = api.client.post(
        "/api/v1/videos",
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert_clear(response, {400, 413, 422})
    assert stored() == before


@fast
@given(
    fields=st.dictionaries(
        st.sampled_from(["template_id", "media_inputs", "key_id", "reference", "x"]),
        text,
        max_size=4,
    ),
    upload=st.none() | st.binary(max_size=200),
)
def test_it_refuses_a_multipart_api_job_create_clearly(api, key, diving, enqueued, fields, upload):
    # The API takes JSON only: a form post is refused as such, whatever it holds.
    data: dict = dict(fields)
    if upload is not None:
        data["media"] = SimpleUploadedFile("me.png", upload)
    before = stored()
    response = api.client.post(
        "/api/v1/videos", data=data, headers={"Authorization": f"Bearer {api.token}"}
    )
    assert_clear(response, {400, 413, 415, 422})
    assert stored() == before


@fast
@given(
    media=st.one_of(
        st.none(),
        st.just(png_bytes()),
        st.binary(max_size=300),
        st.builds(lambda s: s.encode(), text),
    ),
    name=st.sampled_from(["me.png", "me.jpg", "me", "../../etc/passwd", "a" * 300 + ".png"]),
    key_choice=st.one_of(st.none(), text, st.integers()),
    reference=text,
)
@example(media=png_bytes(), name="me.png", key_choice=None, reference="order 7")
def test_it_answers_the_job_form_with_the_form_or_the_new_job(
    owner_client, key, diving, enqueued, media, name, key_choice, reference
):
    data: dict = {"reference": reference}
    if media is not None:
        data["media_0"] = SimpleUploadedFile(name, media)
    if key_choice is not None:
        data["key"] = str(key_choice)
    before = stored()
    response = owner_client.post(reverse("videos:job_new", args=[diving.pk]), data)
    event(f"answer {response.status_code}")
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:
        assert response.context["form"].errors  # said where, by the field
        assert stored() == before
    else:
        assert response["Location"].startswith("/jobs/")


@fast
@given(idempotency_key=header_text)
def test_it_answers_any_idempotency_key_clearly(api, key, diving, enqueued, idempotency_key):
    body = {"template_id": DIVING, "media_inputs": [{"value": VALID_MEDIA}]}
    before = stored()
    response = api.post("/videos", body, headers={"Idempotency-Key": idempotency_key})
    answer = assert_clear(response, CREATE_ANSWERS)
    if response.status_code == 422:
        assert answer and "idempotency" in answer["field"].lower(), answer
    if response.status_code != 201:
        assert stored() == before
    else:
        # The same key again answers the first job and stores nothing more.
        again_before = stored()
        again = api.post("/videos", body, headers={"Idempotency-Key": idempotency_key})
        assert again.status_code == 201 and again.json()["id"] == response.json()["id"]
        assert stored() == again_before


# --- The upstream's callbacks ----------------------------------------------------------------


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


callback_bodies = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(lambda c: json.dumps({"challenge": c}).encode(), json_values),
    st.builds(
        lambda t, s: json.dumps({"task_id": t, "status": s, "base_resp": {}}).encode(),
        json_values,
        json_values,
    ),
    st.builds(
        lambda v, s: json.dumps({"videoId": v, "status": s, "percent": s}).encode(),
        json_values,
        json_values,
    ),
    st.binary(max_size=300),
    st.builds(_deep, st.integers(min_value=1, max_value=30_000)),
    st.builds(lambda n: b'{"x": "' + b"a" * n + b'"}', st.integers(60_000, 200_000)),
)


@pytest.fixture
def callback_jobs(make_job, owner, team, png, django_capture_on_commit_callbacks, enqueued):
    """A MiniMax job and a useapi.net job, each with its callback token."""
    from videos.models import VideoTemplate
    from videos.services import MediaInput, job_create, key_store

    useapi_template = VideoTemplate.objects.create(
        provider="useapi",
        region="global",
        template_id=DIVING,
        name="Diving",
        media_inputs=1,
        price_cents=50,
    )
    useapi_key = key_store(user=owner, label="proxy", secret="user:7-props", provider="useapi")
    with django_capture_on_commit_callbacks(execute=True):
        useapi_job = job_create(
            team=team,
            user=owner,
            template=useapi_template,
            text_inputs=[],
            media_inputs=[MediaInput(upload=SimpleUploadedFile("me.png", png))],
            key_id=useapi_key.pk,
        )
    return {"minimax": make_job(), "useapi": useapi_job}


@fast
@given(provider=st.sampled_from(["minimax", "useapi"]), body=callback_bodies)
def test_it_answers_any_callback_body_clearly(client, callback_jobs, provider, body):
    job = callback_jobs[provider]
    before = stored()
    row_before = Job.objects.filter(pk=job.pk).values().get()
    response = client.post(
        reverse("callback", args=[provider, job.callback_token]),
        data=body,
        content_type="application/json",
    )
    event(f"answer {response.status_code}")
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert stored() == before
        assert Job.objects.filter(pk=job.pk).values().get() == row_before


@fast
@given(token=text, provider=text)
def test_it_answers_an_unknown_callback_with_404(client, callback_jobs, token, provider):
    # A made-up token (or provider) names no job: 404, whatever the body, and nothing stored.
    before = stored()
    path = f"/callbacks/{provider.replace('/', '_') or 'x'}/x-{token.replace('/', '_')}/"
    response = client.post(path, data=b'{"status": "success"}', content_type="application/json")
    assert response.status_code == 404, (path, response.status_code)
    assert stored() == before


# --- Cursors: Last-Event-ID, ?last_event_id=, ?after=, list cursors ----------------------------


@pytest.fixture
def finished_job(make_job, upstream):
    from tests.apiclient import drive_to_success

    job = make_job()
    drive_to_success(job, upstream)
    return job


@fast
@given(header=st.none() | header_text, query=st.none() | text)
def test_it_resumes_an_event_stream_from_any_cursor_clearly(
    api, finished_job, settings, header, query
):
    settings.SSE_POLL_SECONDS = 0.01
    headers = {} if header is None else {"Last-Event-ID": header}
    params = {} if query is None else {"last_event_id": query}
    response = api.get(f"/videos/{finished_job.pk}/events", headers=headers, **params)
    answer = assert_clear(response, {200, 422})
    if response.status_code == 200:
        stream = b"".join(response.streaming_content).decode()
        assert stream.startswith("retry:") and "event: done" in stream
    else:
        assert answer and answer["field"].lower() in ("last-event-id", "last_event_id"), answer


@fast
@given(after=text)
def test_it_answers_the_job_status_from_any_cursor(owner_client, finished_job, after):
    response = owner_client.get(
        reverse("videos:job_status", args=[finished_job.pk]), {"after": after}
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(finished_job.pk)


cursors = st.one_of(
    text,
    st.builds(
        lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("="),
        json_values,
    ),
    st.builds(
        lambda when, ident: (
            base64.urlsafe_b64encode(json.dumps([when, ident]).encode()).decode().rstrip("=")
        ),
        st.one_of(st.just("2026-01-01T00:00:00+00:00"), st.just("2026-01-01"), json_values),
        st.one_of(st.just("00000000-0000-0000-0000-000000000001"), json_values),
    ),
)


@fast
@given(
    cursor=cursors,
    limit=st.none() | text | st.integers(),
    status=st.none() | text | st.sampled_from(["queued", "succeeded"]),
)
def test_it_pages_the_job_list_from_any_cursor_clearly(api, finished_job, cursor, limit, status):
    params = {"cursor": cursor}
    if limit is not None:
        params["limit"] = str(limit)
    if status is not None:
        params["status"] = status
    response = api.get("/videos", **params)
    answer = assert_clear(response, {200, 422})
    if response.status_code == 422:
        assert answer and answer["field"] in ("cursor", "limit", "status"), answer


# --- Query parameters of every list ----------------------------------------------------------

API_LISTS = ["/templates", "/keys", "/videos", "/usage"]
PORTAL_LISTS = [
    ("videos:gallery", []),
    ("videos:job_list", []),
    ("videos:keys", []),
    ("integrations:index", []),
    ("integrations:deliveries", []),
    ("accounts:teams", []),
    ("billing:usage", []),
]
STAFF_LISTS = ["dashboard:index", "dashboard:ledger_csv", "dashboard:jobs_csv"]
query_names = st.one_of(
    st.sampled_from(["status", "limit", "cursor", "provider", "page", "start", "end", "team", "q"]),
    text.filter(bool),
)
queries = st.dictionaries(query_names, text | st.integers().map(str), max_size=4)


@fast
@given(path=st.sampled_from(API_LISTS), params=queries)
def test_it_answers_any_query_of_an_api_list_clearly(api, finished_job, path, params):
    response = api.get(path, **params)
    answer = assert_clear(response, {200, 422})
    if answer is not None:
        assert answer["field"] in params, answer  # the parameter it did not take


@fast
@given(which=st.sampled_from(PORTAL_LISTS), params=queries)
def test_it_answers_any_query_of_a_portal_list(owner_client, finished_job, which, params):
    name, args = which
    response = owner_client.get(reverse(name, args=args), params)
    assert response.status_code == 200, (name, params, response.status_code)


@fast
@given(name=st.sampled_from(STAFF_LISTS), params=queries)
def test_it_answers_any_query_of_the_staff_dashboard(admin_client, finished_job, name, params):
    response = admin_client.get(reverse(name), params)
    # The page shows a bad filter on its form; a CSV has no form, so it answers 400 with
    # the filter's errors as text.
    allowed = {200} if name == "dashboard:index" else {200, 400}
    assert response.status_code in allowed, (name, params, response.status_code)
    if response.streaming:
        b"".join(response.streaming_content)


@fast
@given(period=text.filter(lambda p: "/" not in p and p not in (".", "..")))
def test_it_answers_any_statement_period_clearly(owner_client, team, finished_job, period):
    for name in ("billing:statement", "billing:statement_csv"):
        try:
            path = reverse(name, args=[team.pk, period])
        except NoReverseMatch:  # a period the URL cannot even carry
            continue
        response = owner_client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
