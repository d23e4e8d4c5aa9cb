"""Share links: the team's side on the job page (make, list, revoke) and the public page.

The public page holds the player, the poster and the template's name: nothing of the team,
its people, the job's inputs, reference or price. It is a page of its own (not the portal's
frame, whose header names the viewer's teams), sends no referrer (the token is in its URL)
and asks search engines not to index it. Unknown, revoked and expired links are one 404.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.audit import client_ip
from portal.errors import DomainError
from portal.web import show_as_message
from videos import services
from videos.models import Attachment, Job, JobStatus, Share
from videos.posters import job_poster_attachment
from videos.selectors import job_for_user
from videos.services.shares import DAY
from videos.serving import serve_file

# The job page's choices; the API takes any number of seconds in its range.
EXPIRY_CHOICES = [("1d", "1 day"), ("7d", "7 days"), ("30d", "30 days"), ("never", "Never")]
EXPIRY_SECONDS: dict[str, int | None] = {"1d": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "never": None}
# The new link waits in the session for the one page view that shows it.
SESSION_NEW_LINK = "share_new_link"


class ShareForm(forms.Form):
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="7d", label="Expires after")


def _base_url(request) -> str:
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")


# --- The team's side ------------------------------------------------------------------------


def share_context(request, job: Job) -> dict:
    """What the job page's Share section needs (videos/job_detail.html)."""
    if job.status != JobStatus.SUCCEEDED:
        return {"shares": None}
    new_link = request.session.get(SESSION_NEW_LINK)
    if new_link and new_link.get("job") == str(job.id):
        request.session.pop(SESSION_NEW_LINK)  # shown once
    else:
        new_link = None
    now = timezone.now()
    shares = [(share, share.is_active(now)) for share in Share.objects.filter(job=job)]
    return {
        "shares": shares,
        "share_form": ShareForm(),
        "new_share_link": new_link["url"] if new_link else "",
    }


@login_required
@require_POST
def job_share_create(request, job_id):
    job = job_for_user(user=request.user, job_id=job_id)
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Expires after: choose 1 day, 7 days, 30 days or never.")
        return redirect(_share_section(job))
    try:
        _share, raw = services.share_create(
            job=job,
            by=request.user,
            expires_in_s=EXPIRY_SECONDS[form.cleaned_data["expires"]],
            ip=client_ip(request),
        )
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        url = services.share_url(raw, base_url=_base_url(request))
        request.session[SESSION_NEW_LINK] = {"job": str(job.id), "url": url}
        messages.success(request, "Share link made: copy it now, it is shown only once.")
    return redirect(_share_section(job))


@login_required
@require_POST
def job_share_revoke(request, job_id, share_id: int):
    job = job_for_user(user=request.user, job_id=job_id)
    share = get_object_or_404(Share.objects.filter(job=job), pk=share_id)
    services.share_revoke(share=share, by=request.user, ip=client_ip(request))
    messages.success(request, f"Share link {share.prefix}… revoked: it no longer opens.")
    return redirect(_share_section(job))


def _share_section(job: Job) -> str:
    return reverse("videos:job_detail", kwargs={"job_id": job.id}) + "#share"


# --- The public side ------------------------------------------------------------------------


def _public(response: HttpResponseBase) -> HttpResponseBase:
    # The token is in the URL: no page or file of it tells another site where it came from.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _live_share(token: str) -> Share:
    share = services.share_for_token(token)
    if share is None:
        raise Http404("unknown, expired or revoked link")
    return share


def _poster(job: Job) -> Attachment | None:
    return job_poster_attachment(job)  # the frame cut from the video, else the upstream's


@require_safe
def share_page(request, token: str):
    share = _live_share(token)
    job = share.job
    result = job.result
    if result is None or not result.file:
        raise Http404("unknown, expired or revoked link")
    if request.method == "GET":  # a HEAD (a link checker) is not a view
        services.share_count_view(share=share)
    base = _base_url(request)
    poster = _poster(job)
    # The player asks this host (relative paths); the preview tags need absolute URLs.
    video_path = reverse("videos:share_video", kwargs={"token": token})
    poster_path = reverse("videos:share_poster", kwargs={"token": token}) if poster else ""
    context = {
        "title": job.template.name,
        "page_url": base + reverse("videos:share", kwargs={"token": token}),
        "video_path": video_path,
        "video_url": base + video_path,
        "poster_path": poster_path,
        "poster_url": base + poster_path if poster else "",
        "video": result,
    }
    return _public(render(request, "videos/share.html", context))


@require_safe
def share_video(request, token: str):
    """The video, through the same path as the job page's (signed S3 link or a stream)."""
    result = _live_share(token).job.result
    if result is None or not result.file:
        raise Http404("unknown, expired or revoked link")
    return _public(serve_file(result.file, result.content_type))


@require_safe
def share_poster(request, token: str):
    poster = _poster(_live_share(token).job)
    if poster is None:
        raise Http404("no poster")
    return _public(serve_file(poster.file, poster.content_type))
