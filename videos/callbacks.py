"""The upstream -> us callback view: `/callbacks/<provider>/<job token>/`.

The provider decides the answer (MiniMax: echo the challenge within 3 s; useapi: accept the
`replyUrl` post) and what the push hints at. Pushes carry no signature, so they are hints:
recorded, then a re-query with the owner's key decides. The token in the URL is the job's
unguessable capability; a job of another provider answers 404 like an unknown token.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from videos.providers import PROVIDERS, provider_for
from videos.selectors import callback_known, job_for_callback
from videos.services import job_record_callback

MAX_BODY = 64 * 1024


@csrf_exempt
@require_POST
def callback(request, provider: str, token: str):
    # Hot path (every push of every job, and MiniMax's 3 s challenge): a good push costs one
    # narrow indexed lookup of the job; a bad one, a look whether the URL is ours (404 first).
    if provider not in PROVIDERS:
        raise Http404("unknown callback")
    payload, refusal = _read(request)
    if payload is None:
        if not callback_known(provider=provider, token=token):
            raise Http404("unknown callback")
        return HttpResponseBadRequest(refusal)
    reply = provider_for(provider).read_callback(payload)
    if reply.hint is None:
        if not callback_known(provider=provider, token=token):
            raise Http404("unknown callback")
        return JsonResponse(dict(reply.body))
    job = job_for_callback(provider=provider, token=token)
    if job is None:
        raise Http404("unknown callback")
    job_record_callback(job=job, hint=reply.hint)
    return JsonResponse(dict(reply.body))


def _read(request) -> tuple[dict[str, Any] | None, str]:
    """The push's JSON object, or None and why the body cannot be one."""
    # The size is checked before the body is read: a huge push costs us nothing.
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY or len(request.body) > MAX_BODY:
        return None, "body too large"
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return None, "body must be JSON"
    if not isinstance(payload, dict):
        return None, "body must be a JSON object"
    return payload, ""
