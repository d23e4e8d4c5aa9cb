from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portal.wsgi import application


def errors_are_json_with_detail_and_code(ctx, response, case) -> bool | None:
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["detail"], str) and body["detail"], body
        assert isinstance(body["code"], str) and body["code"], body
    return None


# Loaded at collection (the document needs no database): one test per operation.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


# Some cases are made at collection, before a test (and its token) exists: they carry this
# stand-in, swapped for the test's own token just before the call.
STAND_IN = "Bearer vap_stand-in-for-the-tests-own-token"


@schema.auth(refresh_interval=None)
class BearerToken:
    """Schemathesis applies it wherever it means to send valid auth, and leaves it out where
    it tests a missing or broken token (expecting the 401 it then gets)."""

    def get(self, case, context) -> str:
        return STAND_IN

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@pytest.fixture(autouse=True)
def _bounded(settings, monkeypatch, key, enqueued):
    # Streams end quickly (a job the fuzzer finds may never end), callback hosts "resolve"
    # without DNS, nothing reaches a broker; the owner has a key so creates can succeed.
    settings.SSE_MAX_SECONDS = 0.2
    settings.SSE_POLL_SECONDS = 0
    monkeypatch.setattr("portal.netguard.resolve", lambda host, port: ["93.184.215.14"])
    # The WSGI app is called directly (not through Django's test client), so do what that
    # client does: keep the test's transaction open across requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_it_conforms_to_its_openapi_document(case, api_token):
    if (case.headers or {}).get("Authorization") == STAND_IN:
        case.headers["Authorization"] = f"Bearer {api_token}"
    case.call_and_validate(
        additional_checks=[errors_are_json_with_detail_and_code],
        # Business rules a schema cannot state (how many images this template takes, a label
        # already used, a cursor we never gave out) rightly answer 422 to schema-valid input.
        excluded_checks=[positive_data_acceptance],
    )


# --- The document itself, and errors Django makes under /api/ -----------------------------

EXPECTED = {
    ("get", "/api/v1/templates"): {"200", "401", "422"},
    ("post", "/api/v1/keys"): {"201", "400", "401", "413", "422"},
    ("get", "/api/v1/keys"): {"200", "401"},
    ("delete", "/api/v1/keys/{key_id}"): {"204", "401", "403", "404", "409", "422"},
    ("patch", "/api/v1/keys/{key_id}"): {"200", "400", "401", "403", "404", "413", "422"},
    ("post", "/api/v1/keys/{key_id}/test"): {"200", "401", "403", "404", "422"},
    ("post", "/api/v1/keys/{key_id}/rotate"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "422",
    },
    ("post", "/api/v1/videos"): {"201", "400", "401", "402", "409", "413", "422"},
    ("get", "/api/v1/videos"): {"200", "401", "422"},
    ("get", "/api/v1/videos/{video_id}"): {"200", "401", "404", "422"},
    ("post", "/api/v1/videos/{video_id}/cancel"): {"200", "401", "404", "409", "422"},
    ("get", "/api/v1/videos/{video_id}/events"): {"200", "401", "404", "422", "429"},
    ("get", "/api/v1/videos/{video_id}/download"): {"200", "401", "404", "422"},
    ("get", "/api/v1/videos/{video_id}/files/{file_id}"): {"200", "401", "404", "422"},
    ("post", "/api/v1/videos/{video_id}/shares"): {"201", "400", "401", "404", "409", "413", "422"},
    ("get", "/api/v1/videos/{video_id}/shares"): {"200", "401", "404", "422"},
    ("delete", "/api/v1/shares/{share_id}"): {"204", "401", "404", "422"},
    ("get", "/api/v1/usage"): {"200", "401"},
    ("get", "/api/v1/webhooks/deliveries/{delivery_id}"): {"200", "401", "404", "422"},
    ("post", "/api/v1/webhooks/deliveries/{delivery_id}/retry"): {
        "202",
        "401",
        "403",
        "404",
        "409",
        "422",
    },
    ("get", "/api/v1/audit"): {"200", "401", "403", "422"},
    ("post", "/api/v1/batches"): {"201", "400", "401", "402", "409", "413", "422"},
    ("get", "/api/v1/batches"): {"200", "401", "422"},
    ("get", "/api/v1/batches/{batch_id}"): {"200", "401", "404", "422"},
    ("post", "/api/v1/batches/{batch_id}/cancel"): {"200", "401", "404", "409", "422"},
    ("post", "/api/v1/batches/{batch_id}/retry"): {"200", "401", "402", "404", "409", "422"},
    ("get", "/api/v1/batches/{batch_id}/archive"): {"200", "401", "404", "422"},
}


def test_it_documents_every_endpoint_and_every_answer(client):
    document = client.get("/api/v1/openapi.json").json()
    found = {
        (method, path): set(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert found == EXPECTED
    assert document["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    events = document["paths"]["/api/v1/videos/{video_id}/events"]["get"]["responses"]["200"]
    assert "text/event-stream" in events["content"]
    headers = [p["name"] for p in document["paths"]["/api/v1/videos"]["post"]["parameters"]]
    assert headers == ["Idempotency-Key"]


def test_it_serves_interactive_docs(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and b"openapi.json" in response.content
    assert b"/static/ninja/swagger-ui-bundle.js" in response.content  # ours, not a CDN's


def test_it_answers_json_for_unknown_paths_and_methods_under_api(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found", "code": "not_found"}
    wrong = client.put("/api/v1/templates")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert wrong["Allow"] == "GET"
    # Outside /api/ the portal's own pages are untouched.
    assert not client.get("/no-such-page/")["Content-Type"].startswith("application/json")


def test_it_answers_json_without_details_when_an_endpoint_breaks(api, monkeypatch):
    def broken():
        raise RuntimeError("postgres://user:secret@db/portal is down")

    monkeypatch.setattr("videos.api.templates.templates_active", broken)
    response = api.get("/templates")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error", "code": "server_error"}
    assert b"secret" not in response.content


def test_it_turns_djangos_own_error_pages_into_json():
    from django.http import HttpResponseServerError

    from portal.api.middleware import json_error_for

    response = json_error_for(HttpResponseServerError("<h1>Server Error (500)</h1>"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
