"""The upstream -> us callback view (FACTS.md, "Callback").

First a `{"challenge": ...}` POST that must be echoed within 3 s; then pushes on status
changes. Pushes carry no signature, so they are hints: recorded, then a re-query with the
owner's key decides. The token in the URL is the job's unguessable capability.
"""

from __future__ import annotations

import json

from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from videos.models import Job
from videos.services import job_record_callback

MAX_BODY = 64 * 1024


@csrf_exempt
@require_POST
def minimax_callback(request, token: str):
    job = Job.objects.filter(callback_token=token).first()
    if job is None:
        raise Http404("unknown callback")
    if len(request.body) > MAX_BODY:
        return HttpResponseBadRequest("body too large")
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return HttpResponseBadRequest("body must be JSON")
    if not isinstance(payload, dict):
        return HttpResponseBadRequest("body must be a JSON object")
    if "challenge" in payload:
        return JsonResponse({"challenge": payload["challenge"]})
    job_record_callback(job=job, payload=payload)
    return JsonResponse({"status": "success"})
