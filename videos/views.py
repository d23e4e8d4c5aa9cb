from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.selectors import current_team, keys_for_user
from portal.errors import DomainError
from portal.web import show_on_form
from videos import inputs, services
from videos.forms import JobForm, KeyForm
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
        except DomainError as exc:
            # Bad input next to its field; no usable key, quota (which limit, when it
            # resets) at the top of the form.
            show_on_form(form, exc, form.field_for)
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
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Job canceled.")
    return redirect("videos:job_detail", job_id=job.id)


def _serve(file: FieldFile, content_type: str):
    storage = file.storage
    if getattr(storage, "querystring_auth", False):
        # A private bucket: the owner gets a signed link that expires in minutes
        # (S3_URL_EXPIRE_SECONDS), and the bytes don't tie up a web worker. Not cached, so
        # every visit signs afresh.
        response = redirect(storage.url(file.name))
        response["Cache-Control"] = "private, no-store"
        return response
    # Local files (and any storage that cannot sign) stream through the app, after the
    # permission check of the caller.
    return FileResponse(file.open("rb"), content_type=content_type or None)


@login_required
def job_video(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    result = job.result
    if result is None or not result.file:
        raise Http404("no video yet")
    return _serve(result.file, result.content_type)


@login_required
def job_file(request, job_id, attachment_id: int):
    """An input image, the poster or an image made on the way, for the job's team."""
    job = job_for_user(user=request.user, job_id=job_id)
    attachment = get_object_or_404(
        job.attachments.exclude(kind=AttachmentKind.RESULT).exclude(file=""), pk=attachment_id
    )
    return _serve(attachment.file, attachment.content_type)


@login_required
def template_asset(request, template_pk: int, asset: str):
    """A template's stored cover or preview clip (copied from the listing, never hot-linked)."""
    template = get_object_or_404(templates_active(), pk=template_pk)
    file = {"cover": template.cover, "preview": template.preview}.get(asset)
    if not file:
        raise Http404("no such asset")
    return _serve(file, "")


def input_image(request, token: str):
    """An input image for the upstream to fetch: a signed, expiring, unguessable URL."""
    attachment_id = inputs.attachment_id_from_token(token)
    if attachment_id is None:
        raise Http404("unknown or expired link")
    attachment = get_object_or_404(Attachment, pk=attachment_id, kind=AttachmentKind.INPUT)
    return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)


# --- The key vault (upstream keys are the credentials of video jobs) ------------------------


@login_required
def keys(request):
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = services.key_store(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, f"Key “{key.label}” saved (…{key.last4}).")
            return redirect("videos:keys")
    return render(
        request, "accounts/keys.html", {"form": form, "keys": keys_for_user(user=request.user)}
    )


@login_required
@require_POST
def key_delete(request, key_id: int):
    key = get_object_or_404(keys_for_user(user=request.user), pk=key_id)
    try:
        services.key_delete(key=key)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Key “{key.label}” deleted.")
    return redirect("videos:keys")
