"""Bare comparison endpoints: the same server, middleware and auth as the product's, no work.

Each figure of docs/benchmarks.md is "the product's endpoint / the bare one", so what is
measured is the portal's own cost on top of Django, ninja and the machine.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from ninja import NinjaAPI, Schema

from portal.api.auth import TokenAuth

# A NinjaAPI of its own (its own namespace and no docs): the product's OpenAPI is untouched.
bare_api = NinjaAPI(
    title="bench", urls_namespace="bench-api", docs_url=None, openapi_url=None, auth=TokenAuth()
)


class BareIn(Schema):
    template_id: str = ""
    text_inputs: list[dict] = []
    reference: str = ""


@bare_api.get("/auth")
def bare_auth_get(request):
    """Token-authenticated, answers a constant: the API's fixed cost."""
    return {"ok": True}


@bare_api.post("/auth", response={201: dict})
def bare_auth_post(request, payload: BareIn):
    """Token-authenticated POST parsing a body like the create's: POST /api/v1/videos's bare."""
    return 201, {"ok": True}


@bare_api.get("/open", auth=None)
def bare_open_get(request):
    """No auth at all: what token auth costs is /auth over this."""
    return {"ok": True}


@csrf_exempt
@require_POST
def bare_post(request):
    """A CSRF-exempt POST that reads its body: the callback view's bare."""
    return JsonResponse({"ok": True, "bytes": len(request.body)})


@admin.site.admin_view
def empty_staff_page(request):
    """A staff-only page with nothing on it: the dashboard's bare."""
    return HttpResponse("<!doctype html><title>staff</title><p>staff only</p>")
