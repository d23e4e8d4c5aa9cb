"""Portal pages of batches: set one up from files (check, then confirm), follow it, act on it.

Thin: files become items in batches.services.files, drafts keep them between the two steps,
every check and write is a service's."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from accounts.selectors import current_team_required, require_team_mfa
from batches import services
from batches.errors import BatchInputError
from batches.forms import BatchForm, ConfirmForm
from batches.models import Batch
from batches.selectors import batch_summaries, batch_summary, batches_for_team, current_items
from batches.services.archive import archive_name, archive_stream, archive_stream_async
from batches.services.drafts import draft_delete, draft_items, draft_save
from batches.services.files import column_names, csv_header
from portal.errors import DomainError
from portal.web import show_as_message
from videos.posters import with_posters
from videos.selectors import templates_active


def _batch_for(request, batch_id) -> Batch:
    """A batch of any team the user is in (as a job is: videos.selectors.job_for_user);
    another team's is not found, never forbidden."""
    batch = get_object_or_404(
        Batch.objects.select_related("template", "team"),
        pk=batch_id,
        team__memberships__user=request.user,
    )
    require_team_mfa(user=request.user, team=batch.team)
    return batch


@login_required
def batch_list(request):
    team = current_team_required(request)
    batches = list(batches_for_team(team=team)[:100])
    summaries = batch_summaries([b.pk for b in batches])
    rows = [(b, summaries[b.pk]) for b in batches]
    return render(request, "batches/list.html", {"rows": rows})


def _new_context(template, form, **more) -> dict:
    texts, images = column_names(template)
    return {
        "template": template,
        "form": form,
        "text_columns": texts,
        "image_columns": images,
        "header": ",".join(csv_header(template)),
        "image_only": template.media_inputs == 1 and not template.text_inputs,
        **more,
    }


@login_required
def batch_new(request, template_pk: int):
    """Step 1: the files are checked, every row; nothing is made. A clean set shows the
    price and what is left of the month, and a button to create it (step 2)."""
    template = get_object_or_404(templates_active(), pk=template_pk)
    team = current_team_required(request)
    image_only = template.media_inputs == 1 and not template.text_inputs
    form = BatchForm(request.POST or None, request.FILES or None, image_only=image_only)
    if request.method != "POST" or not form.is_valid():
        return render(request, "batches/new.html", _new_context(template, form))
    draft_id = draft_save(
        team=team,
        csv_file=form.cleaned_data.get("rows"),
        zip_file=form.cleaned_data.get("images_zip"),
        images=form.cleaned_data.get("images") or [],
    )
    context = _check(request, template, draft_id)
    if context.get("row_errors") or context.get("refusal"):
        draft_delete(team=team, draft_id=draft_id)
    else:
        context["confirm"] = ConfirmForm(
            initial={"draft": draft_id, "name": form.cleaned_data["name"]}
        )
    return render(request, "batches/new.html", _new_context(template, form, **context))


def _check(request, template, draft_id: str) -> dict:
    team = current_team_required(request)
    with draft_items(team=team, template=template, draft_id=draft_id) as found:
        if found is None:
            return {"refusal": "These files are no longer here; upload them again."}
        items, errors = found
        if errors:
            return {"row_errors": errors}
        try:
            admission = services.batch_check(
                team=team, user=request.user, template=template, items=items, key_id=None
            )
        except BatchInputError as exc:
            return {"row_errors": exc.errors}
        except DomainError as exc:
            admission = services.batch_admission(team=team, template=template, count=len(items))
            return {"refusal": str(exc), "admission": admission}
        return {"admission": admission}


@login_required
@require_POST
def batch_confirm(request, template_pk: int):
    """Step 2: the checked files become the batch (checked again: the month may have moved)."""
    template = get_object_or_404(templates_active(), pk=template_pk)
    team = current_team_required(request)
    confirm = ConfirmForm(request.POST)
    if not confirm.is_valid():
        return redirect("batches:new", template_pk=template.pk)
    draft_id = confirm.cleaned_data["draft"]
    image_only = template.media_inputs == 1 and not template.text_inputs
    form = BatchForm(image_only=image_only)
    with draft_items(team=team, template=template, draft_id=draft_id) as found:
        if found is None:
            context = {"refusal": "These files are no longer here; upload them again."}
            return render(request, "batches/new.html", _new_context(template, form, **context))
        items, errors = found
        try:
            if errors:
                raise BatchInputError(errors)
            batch = services.batch_create(
                team=team,
                user=request.user,
                template=template,
                items=items,
                name=confirm.cleaned_data["name"],
            )
        except BatchInputError as exc:
            context = _new_context(template, form, row_errors=exc.errors)
            return render(request, "batches/new.html", context)
        except DomainError as exc:
            admission = services.batch_admission(team=team, template=template, count=len(items))
            context = _new_context(template, form, refusal=str(exc), admission=admission)
            return render(request, "batches/new.html", context)
    draft_delete(team=team, draft_id=draft_id)
    messages.success(request, f"Batch created: {len(items)} video(s) queued.")
    return redirect("batches:detail", batch_id=batch.id)


@login_required
def batch_sample_csv(request, template_pk: int):
    template = get_object_or_404(templates_active(), pk=template_pk)
    texts, images = column_names(template)
    example = [*(["Lion"] * len(texts)), *(["photo-1.jpg"] * len(images)), "row-1"]
    body = ",".join(csv_header(template)) + "\r\n" + ",".join(example) + "\r\n"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="batch-sample.csv"'
    return response


def _grid_context(batch: Batch) -> dict:
    summary = batch_summary(batch)
    items = list(current_items(batch))
    with_posters([item.job for item in items])  # the grid's thumbnails: one query
    return {"batch": batch, "summary": summary, "items": items}


@login_required
def batch_detail(request, batch_id):
    batch = _batch_for(request, batch_id)
    return render(request, "batches/detail.html", _grid_context(batch))


@login_required
def batch_status(request, batch_id):
    """The live part of the batch page (counts, bar, grid), for its script to swap in."""
    batch = _batch_for(request, batch_id)
    context = _grid_context(batch)
    summary = context["summary"]
    return JsonResponse(
        {
            "status": summary.status,
            "done": not summary.in_flight,
            "html": render_to_string("batches/_live.html", context, request=request),
        }
    )


@login_required
@require_POST
def batch_cancel(request, batch_id):
    batch = _batch_for(request, batch_id)
    count = services.batch_cancel(batch=batch)
    messages.success(request, f"{count} job(s) canceled; nothing is charged for them.")
    return redirect("batches:detail", batch_id=batch.id)


@login_required
@require_POST
def batch_retry(request, batch_id):
    batch = _batch_for(request, batch_id)
    try:
        count = services.batch_retry_failed(batch=batch, user=request.user)
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, f"{count} failed row(s) retried with new jobs.")
    return redirect("batches:detail", batch_id=batch.id)


@login_required
def batch_archive(request, batch_id):
    batch = _batch_for(request, batch_id)
    # Under ASGI (production) an async iterator, or Django would buffer the whole ZIP.
    stream = archive_stream_async if isinstance(request, ASGIRequest) else archive_stream
    response = StreamingHttpResponse(stream(batch), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive_name(batch)}"'
    return response
