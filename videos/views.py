from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.selectors import current_team
from billing.errors import QuotaExceededError
from videos import inputs, services
from videos.errors import JobInputError, JobStateError, NoUsableKeyError
from videos.forms import JobForm
from videos.models import Attachment, AttachmentKind
from videos.presenters import job_status_payload
from videos.selectors import job_for_user, jobs_for_team, templates_active


@login_required
def gallery(request):
    return render(request, "videos/gallery.html", {"templates": templates_active()})


@login_required
def job_new(request, template_pk: int):
    template = get_object_or_404(templates_active(), pk=template_pk)
    form = JobForm(
        request.POST or None, request.FILES or None, template=template, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        try:
            job = services.job_create(
                team=current_team(request),
                user=request.user,
                template=template,
                text_inputs=form.text_values(),
                media_inputs=[services.MediaInput(upload=f) for f in form.media_files()],
                key_id=form.cleaned_data["key"].pk,
                reference=form.cleaned_data["reference"],
            )
        except JobInputError as exc:
            form.add_error(form.field_for(exc.field), exc.message)
        except NoUsableKeyError as exc:
            form.add_error(None, str(exc))
        except QuotaExceededError as exc:
            # Which limit, and when it resets, are in the message (billing.services).
            form.add_error(None, exc.message)
        else:
            return redirect("videos:job_detail", job_id=job.id)
    return render(request, "videos/job_new.html", {"template": template, "form": form})


@login_required
def job_list(request):
    page = Paginator(jobs_for_team(team=current_team(request)), settings.JOBS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "videos/job_list.html", {"page": page})


@login_required
def job_detail(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    return render(
        request,
        "videos/job_detail.html",
        {
            "job": job,
            "status": job_status_payload(job),
            "inputs": job.attachments.filter(kind=AttachmentKind.INPUT),
        },
    )


@login_required
def job_status(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    return JsonResponse(job_status_payload(job, after=request.GET.get("after")))


@login_required
@require_POST
def job_cancel(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    try:
        services.job_cancel(job=job)
    except JobStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Job canceled.")
    return redirect("videos:job_detail", job_id=job.id)


@login_required
def job_video(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    result = job.result
    if result is None:
        raise Http404("no video yet")
    storage = result.file.storage
    if getattr(storage, "querystring_auth", False):
        # A private bucket: the owner gets a signed link that expires in minutes
        # (S3_URL_EXPIRE_SECONDS), and the bytes don't tie up a web worker. Not cached, so
        # every visit signs afresh.
        response = redirect(storage.url(result.file.name))
        response["Cache-Control"] = "private, no-store"
        return response
    # Local files (and any storage that cannot sign) stream through the app, after the
    # permission check above.
    return FileResponse(result.file.open("rb"), content_type=result.content_type)


def input_image(request, token: str):
    """An input image for the upstream to fetch: a signed, expiring, unguessable URL."""
    attachment_id = inputs.attachment_id_from_token(token)
    if attachment_id is None:
        raise Http404("unknown or expired link")
    attachment = get_object_or_404(Attachment, pk=attachment_id, kind=AttachmentKind.INPUT)
    return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
