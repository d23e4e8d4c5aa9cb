from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts.audit import client_ip
from accounts.selectors import current_team, current_team_required, is_manager, keys_for_user
from portal.errors import DomainError, FieldError
from portal.web import show_as_message, show_on_form
from videos import inputs, posters, services
from videos.forms import GalleryFilterForm, JobFilterForm, JobForm, KeyForm, KeyLimitsForm
from videos.models import Attachment, AttachmentKind, KeyEvent
from videos.presenters import download_name, job_status_payload, job_timeline, sandbox_keys
from videos.selectors import (
    job_for_user,
    jobs_for_team,
    jobs_page,
    key_loads,
    key_providers,
    keys_visible_to,
    templates_active,
)
from videos.serving import serve_file
from videos.share_views import share_context


@login_required
def gallery(request):
    filters = GalleryFilterForm(request.GET or None)
    team = current_team(request)
    keyed = key_providers(user=request.user, team=team) if team else set()
    return render(
        request,
        "videos/gallery.html",
        {
            "templates": posters.with_template_media(
                filters.apply(templates_active()).order_by("provider", "name"), team=team
            ),
            "filters": filters,
            "keyed_providers": keyed,
            "sandbox_keys": sandbox_keys(),
        },
    )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


@login_required
def job_new(request, template_pk: int):
    template = get_object_or_404(templates_active(), pk=template_pk)
    team = current_team_required(request)
    # "Make another with these inputs": ?from=<job> on the page, kept in the form's POST.
    source_id = _uuid_or_none(request.POST.get("from") or request.GET.get("from"))
    source = job_for_user(user=request.user, job_id=source_id) if source_id else None
    form = JobForm(
        request.POST or None,
        request.FILES or None,
        template=template,
        user=request.user,
        team=team,
        source=source,
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["key"]
        try:
            job = services.job_create(
                team=team,
                user=request.user,
                template=template,
                text_inputs=form.text_values(),
                media_inputs=[services.MediaInput(upload=f) for f in form.media_files()],
                key_id=chosen.pk if chosen else None,
                reference=form.cleaned_data["reference"],
            )
        except DomainError as exc:
            # Bad input next to its field; no usable key, quota (which limit, when it
            # resets) at the top of the form.
            show_on_form(form, exc, form.field_for)
        else:
            return redirect("videos:job_detail", job_id=job.id)
    return render(
        request, "videos/job_new.html", {"template": template, "form": form, "source": source}
    )


@login_required
def job_list(request):
    filters = JobFilterForm(request.GET or None, templates=templates_active())
    jobs = filters.apply(jobs_for_team(team=current_team(request)))
    try:
        # Keyset pages (?after= older, ?before= newer): no COUNT, no OFFSET, at any depth.
        # The pager's links keep the filters ({% querystring %}).
        page = jobs_page(
            jobs,
            limit=settings.JOBS_PER_PAGE,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    except FieldError:  # a cursor we did not write (edited, truncated): the first page
        page = jobs_page(jobs, limit=settings.JOBS_PER_PAGE)
    posters.with_posters(page.object_list)  # one query for the page
    return render(request, "videos/job_list.html", {"page": page, "filters": filters})


@login_required
def job_detail(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    status = job_status_payload(job)
    return render(
        request,
        "videos/job_detail.html",
        {
            "job": job,
            "status": status,
            **job_timeline(status["events"]),
            "inputs": job.attachments.filter(kind=AttachmentKind.INPUT),
            **share_context(request, job),
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


@login_required
def job_video(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    result = job.result
    if result is None or not result.file:
        raise Http404("no video yet")
    if request.GET.get("download"):
        return serve_file(result.file, result.content_type, filename=download_name(job))
    return serve_file(result.file, result.content_type)


@login_required
def job_file(request, job_id, attachment_id: int):
    """An input image, the poster or an image made on the way, for the job's team."""
    job = job_for_user(user=request.user, job_id=job_id)
    attachment = get_object_or_404(
        job.attachments.exclude(kind=AttachmentKind.RESULT).exclude(file=""), pk=attachment_id
    )
    return serve_file(attachment.file, attachment.content_type)


@login_required
def job_poster(request, job_id):
    """The job's poster (the frame cut from its video), for the job's team only."""
    job = job_for_user(user=request.user, job_id=job_id)
    poster = posters.job_poster_attachment(job)
    if poster is None:
        raise Http404("no poster")
    return serve_file(poster.file, poster.content_type)


@login_required
def template_poster(request, template_pk: int):
    """A template's poster as the caller's team sees it: its cover, else the poster of the
    team's own latest video of it (never another team's)."""
    template = get_object_or_404(templates_active(), pk=template_pk)
    found = posters.template_poster_file(template, team=current_team(request))
    if found is None:
        raise Http404("no poster")
    return serve_file(*found)


@login_required
def template_asset(request, template_pk: int, asset: str):
    """A template's stored cover or preview clip (copied from the listing, never hot-linked)."""
    template = get_object_or_404(templates_active(), pk=template_pk)
    file = {"cover": template.cover, "preview": template.preview}.get(asset)
    if not file:
        raise Http404("no such asset")
    return serve_file(file, "")


def input_image(request, token: str):
    """An input image for the upstream to fetch: a signed, expiring, unguessable URL."""
    attachment_id = inputs.attachment_id_from_token(token)
    if attachment_id is None:
        raise Http404("unknown or expired link")
    attachment = get_object_or_404(Attachment, pk=attachment_id, kind=AttachmentKind.INPUT)
    return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)


# --- The key vault (upstream keys are the credentials of video jobs) ------------------------


def _keys_context(request, form) -> dict:
    team = current_team_required(request)
    keys = list(keys_visible_to(user=request.user, team=team))
    loads = key_loads(keys)
    rows = [(key, loads[key.pk]) for key in keys]
    return {
        "form": form,
        "team": team,
        "own_rows": [(k, load) for k, load in rows if k.user_id == request.user.pk],
        "shared_rows": [(k, load) for k, load in rows if k.user_id != request.user.pk],
        "can_manage": is_manager(team=team, user=request.user),
        "events": KeyEvent.objects.filter(key__in=keys).select_related("key")[:20],
        "now": timezone.now(),
        "sandbox_keys": sandbox_keys(),
    }


# An error report of this page (DEBUG page, mailed report, error tracker) shows neither the
# posted secret nor the frame's variables that hold it.
@sensitive_post_parameters("secret")
@sensitive_variables()
@login_required
def keys(request):
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        shared = data.pop("shared")
        try:
            key = services.key_store(
                user=request.user,
                share_with=current_team_required(request) if shared else None,
                ip=client_ip(request),
                **data,
            )
        except DomainError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, f"Key “{key.label}” saved (…{key.last4}); checking it now.")
            return redirect("videos:keys")
    return render(request, "accounts/keys.html", _keys_context(request, form))


def _visible_key(request, key_id: int):
    team = current_team_required(request)
    return get_object_or_404(keys_visible_to(user=request.user, team=team), pk=key_id), team


@login_required
@require_POST
def key_delete(request, key_id: int):
    key = get_object_or_404(keys_for_user(user=request.user), pk=key_id)
    try:
        services.key_delete(key=key, by=request.user, ip=client_ip(request))
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, f"Key “{key.label}” deleted.")
    return redirect("videos:keys")


@login_required
@require_POST
@sensitive_post_parameters("secret")
def key_rotate(request, key_id: int):
    key = get_object_or_404(keys_for_user(user=request.user), pk=key_id)
    try:
        services.key_rotate(
            key=key, by=request.user, secret=request.POST.get("secret", ""), ip=client_ip(request)
        )
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        messages.success(
            request, f"Key “{key.label}” has its new secret (…{key.last4}); checking it now."
        )
    return redirect("videos:keys")


@login_required
@require_POST
def key_share(request, key_id: int):
    key, team = _visible_key(request, key_id)
    share = request.POST.get("shared") == "1"
    try:
        services.key_update(
            key=key, by=request.user, team=team, shared=share, ip=client_ip(request)
        )
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        verb = f"shared with {team.name}" if share else "no longer shared"
        messages.success(request, f"Key “{key.label}” is {verb}.")
    return redirect("videos:keys")


@login_required
@require_POST
def key_limits(request, key_id: int):
    key, team = _visible_key(request, key_id)
    form = KeyLimitsForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
        return redirect("videos:keys")
    try:
        services.key_update(key=key, by=request.user, team=team, **form.cleaned_data)
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, f"Limits of “{key.label}” saved.")
    return redirect("videos:keys")


@login_required
@require_POST
def key_test(request, key_id: int):
    key, _team = _visible_key(request, key_id)
    try:
        passed = services.key_test(key=key, by=request.user)
    except DomainError as exc:
        show_as_message(request, exc)
        return redirect("videos:keys")
    if passed:
        messages.success(request, f"“{key.label}” works: the upstream accepted it.")
    else:
        messages.error(request, f"“{key.label}” did not pass: {key.status_reason or 'no answer'}.")
    return redirect("videos:keys")
