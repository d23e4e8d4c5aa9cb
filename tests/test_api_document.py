"""The OpenAPI document as generated clients read it: short stable operation ids, enums in
the answers, binary downloads. (tests/test_api_schema.py checks the API against it.)"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from django.apps import apps
from ninja.responses import NinjaJSONEncoder

from portal.api.v1 import api

# A generated client names its functions after these (`videos_create.sync(...)`): renaming
# one breaks every integration built on it, so they are listed, not derived.
OPERATION_IDS = {
    ("get", "/api/v1/templates"): "templates_list",
    ("post", "/api/v1/keys"): "keys_create",
    ("get", "/api/v1/keys"): "keys_list",
    ("patch", "/api/v1/keys/{key_id}"): "keys_update",
    ("delete", "/api/v1/keys/{key_id}"): "keys_delete",
    ("post", "/api/v1/keys/{key_id}/test"): "keys_test",
    ("post", "/api/v1/keys/{key_id}/rotate"): "keys_rotate",
    ("post", "/api/v1/videos"): "videos_create",
    ("get", "/api/v1/videos"): "videos_list",
    ("get", "/api/v1/videos/{video_id}"): "videos_get",
    ("post", "/api/v1/videos/{video_id}/cancel"): "videos_cancel",
    ("get", "/api/v1/videos/{video_id}/events"): "videos_events",
    ("get", "/api/v1/videos/{video_id}/download"): "videos_download",
    ("get", "/api/v1/videos/{video_id}/files/{file_id}"): "video_files_get",
    ("post", "/api/v1/videos/{video_id}/shares"): "shares_create",
    ("get", "/api/v1/videos/{video_id}/shares"): "shares_list",
    ("delete", "/api/v1/shares/{share_id}"): "shares_revoke",
    ("get", "/api/v1/usage"): "usage_get",
    ("get", "/api/v1/webhooks/deliveries/{delivery_id}"): "webhook_deliveries_get",
    ("post", "/api/v1/webhooks/deliveries/{delivery_id}/retry"): "webhook_deliveries_retry",
    ("get", "/api/v1/audit"): "audit_list",
    ("post", "/api/v1/batches"): "batches_create",
    ("get", "/api/v1/batches"): "batches_list",
    ("get", "/api/v1/batches/{batch_id}"): "batches_get",
    ("post", "/api/v1/batches/{batch_id}/cancel"): "batches_cancel",
    ("post", "/api/v1/batches/{batch_id}/retry"): "batches_retry",
    ("get", "/api/v1/batches/{batch_id}/archive"): "batches_archive",
}

# resource_verb: a plural resource (one or two words), then what is done to it.
OPERATION_ID = re.compile(
    r"^[a-z]+(_[a-z]+)?_(list|get|create|update|delete|cancel|events|download|test|rotate"
    r"|revoke|retry|archive)$"
)
# Answer fields that only ever hold one of a known set of values.
ENUM_FIELDS = {"status", "provider", "kind", "region", "action", "event_type", "cooling_reason"}


@pytest.fixture(scope="module")
def document() -> dict:
    # As served: through JSON (status codes become strings).
    return json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield (method, path), operation


def resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_it_gives_every_operation_a_short_stable_id(document):
    found = {where: operation["operationId"] for where, operation in operations(document)}
    assert {where: found.get(where) for where in OPERATION_IDS} == OPERATION_IDS
    duplicates = [op_id for op_id, n in Counter(found.values()).items() if n > 1]
    assert duplicates == []
    # ninja's default names the module (`videos_api_videos_video_create`): every route
    # names its own, resource_verb.
    modules = tuple(f"{app.label}_api" for app in apps.get_app_configs())
    for where, op_id in found.items():
        assert OPERATION_ID.match(op_id), (where, op_id)
        assert not op_id.startswith(modules) and "_api_" not in op_id, (where, op_id)


def test_it_types_status_provider_and_kind_fields_as_enums_in_answers(document):
    checked: set[tuple[str, str]] = set()

    def walk(schema: dict, name: str) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            schema = resolve(document, schema)
        for option in schema.get("anyOf", []) + schema.get("allOf", []):
            walk(option, name)
        if "items" in schema:
            walk(schema["items"], name)
        for field, prop in schema.get("properties", {}).items():
            if (name, field) in checked:
                continue
            checked.add((name, field))
            if field in ENUM_FIELDS:
                options = [resolve(document, o) for o in prop.get("anyOf", [prop])]
                typed = [o for o in options if o.get("type") != "null"]
                assert typed and all("enum" in o for o in typed), (name, field, prop)
            walk(prop, name)

    for where, operation in operations(document):
        for answer in operation["responses"].values():
            for content in answer.get("content", {}).values():
                walk(content["schema"], str(where))
    # The job's and the key's answers were among them.
    assert {("JobOut", "status"), ("KeyOut", "region"), ("TemplateOut", "provider")} <= checked


def test_it_declares_the_download_as_a_binary_file(document):
    answer = document["paths"]["/api/v1/videos/{video_id}/download"]["get"]["responses"]["200"]
    assert set(answer["content"]) == {"video/mp4", "application/octet-stream"}
    for content in answer["content"].values():
        assert content["schema"] == {"type": "string", "format": "binary"}
    image = document["paths"]["/api/v1/videos/{video_id}/files/{file_id}"]["get"]
    assert "application/octet-stream" in image["responses"]["200"]["content"]
    archive = document["paths"]["/api/v1/batches/{batch_id}/archive"]["get"]
    assert set(archive["responses"]["200"]["content"]) == {
        "application/zip",
        "application/octet-stream",
    }
