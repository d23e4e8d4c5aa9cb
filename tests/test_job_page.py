"""The job page: title, one timeline, price wording, download, and "make another"."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.apiclient import drive_to_success
from videos.models import EventKind, Job, JobStatus
from videos.services import MediaInput
from videos.services.transitions import event


def test_it_titles_the_page_with_the_template_and_the_reference(owner_client, make_job):
    job = make_job(reference="order-" + "x" * 190)
    body = owner_client.get(reverse("videos:job_detail", args=[job.id])).content.decode()
    assert '<h1>Diving <span class="job-ref" title="order-xxx' in body and "xxxx…</span>" in body
    assert "data-relative>" in body and " UTC</time>" in body


def test_it_folds_the_upstream_pushes_away_from_the_timeline(owner_client, make_job):
    job = make_job()
    event(job.id, EventKind.CALLBACK, "MiniMax pushed: processing")
    event(job.id, EventKind.PROGRESS, "MiniMax: Processing", status=JobStatus.PROCESSING)
    response = owner_client.get(reverse("videos:job_detail", args=[job.id]))
    timeline = [e["message"] for e in response.context["timeline"]]
    assert timeline == ["Job queued", "MiniMax: Processing"]
    assert [e["message"] for e in response.context["pushes"]] == ["MiniMax pushed: processing"]
    assert 'Upstream pushes (<span id="push-count">1</span>)' in response.content.decode()


def test_it_says_not_charged_for_a_failed_job(owner_client, make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error_code="x", finished_at=timezone.now()
    )
    body = owner_client.get(reverse("videos:job_detail", args=[job.id])).content.decode()
    assert "<strong>not charged</strong>" in body
    assert 'id="cancel-form"' in body and "hidden>" in body.split('id="cancel-form"')[1][:200]


def test_it_downloads_the_video_with_a_name(
    owner_client, make_job, upstream, django_capture_on_commit_callbacks
):
    job = make_job(reference="order 7")
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(job, upstream)
    response = owner_client.get(reverse("videos:job_video", args=[job.id]) + "?download=1")
    if response.status_code == 302:  # S3: a signed link that names the file for the browser
        query = parse_qs(urlsplit(response["Location"]).query)
        disposition = query["response-content-disposition"][0]
    else:
        assert response.status_code == 200
        disposition = response["Content-Disposition"]
    assert disposition == 'attachment; filename="diving-order-7.mp4"'
    body = owner_client.get(reverse("videos:job_detail", args=[job.id])).content.decode()
    assert '?download=1" download>' in body


def test_it_fills_in_another_job_from_an_earlier_one_and_reuses_its_image(
    owner_client, make_job, key, run_for_life, png, enqueued
):
    earlier = make_job(
        template=run_for_life,
        text_inputs=["Lion"],
        reference="first",
        media_inputs=[MediaInput(upload=SimpleUploadedFile("me.png", png))],
    )
    url = reverse("videos:job_new", args=[run_for_life.pk]) + f"?from={earlier.id}"
    response = owner_client.get(url)
    form = response.context["form"]
    assert form["text_0"].value() == "Lion" and form["reference"].value() == "first"
    assert form.fields["media_0"].required is False
    response = owner_client.post(
        reverse("videos:job_new", args=[run_for_life.pk]),
        {"from": str(earlier.id), "text_0": "Tiger", "reference": "second"},
    )
    assert response.status_code == 302
    again = Job.objects.exclude(pk=earlier.pk).get()
    assert again.text_inputs == ["Tiger"] and again.attachments.get().width == 640


def test_it_answers_404_for_another_teams_job_as_the_source(client, outsider, make_job):
    job = make_job()
    client.force_login(outsider)
    url = reverse("videos:job_new", args=[job.template_id]) + f"?from={job.id}"
    assert client.get(url).status_code == 404
    bad = reverse("videos:job_new", args=[job.template_id]) + "?from=not-a-uuid"
    assert client.get(bad).status_code == 200


def test_it_refuses_too_long_text_with_the_fields_error_and_keeps_the_inputs(
    owner_client, key, run_for_life, png, enqueued
):
    response = owner_client.get(reverse("videos:job_new", args=[run_for_life.pk]))
    body = response.content.decode()
    assert "maxlength" not in body and 'data-limit="' in body
    long = "L" * 6000
    response = owner_client.post(
        reverse("videos:job_new", args=[run_for_life.pk]),
        {
            "text_0": long,
            "reference": "keep-me",
            "media_0": SimpleUploadedFile("me.png", png, content_type="image/png"),
        },
    )
    assert response.status_code == 200
    (error,) = response.context["form"].errors["text_0"]
    assert "this has 6000" in error
    assert 'value="keep-me"' in response.content.decode()
    assert not Job.objects.exists()


def test_it_asks_for_the_image_again_when_the_earlier_one_is_gone(
    owner_client, make_job, key, diving, enqueued
):
    earlier = make_job()
    stored = earlier.attachments.get()
    stored.file.storage.delete(stored.file.name)
    response = owner_client.post(
        reverse("videos:job_new", args=[diving.pk]), {"from": str(earlier.id)}
    )
    assert response.status_code == 200
    assert "media_0" in response.context["form"].errors
    assert Job.objects.count() == 1
