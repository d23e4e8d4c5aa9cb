from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.apiclient import drive_to_success
from tests.conftest import make_image
from videos.models import Job, JobStatus, VideoTemplate
from videos.sse import job_event_stream


def test_it_shows_every_active_template_with_its_inputs(owner_client, catalogue):
    response = owner_client.get(reverse("videos:gallery"))
    assert response.status_code == 200
    body = response.content.decode()
    assert VideoTemplate.objects.filter(is_active=True).count() == 16
    for template in VideoTemplate.objects.all():
        assert template.name.replace("'", "&#x27;") in body
    assert "1 image" in body and "1 text" in body


def test_it_hides_inactive_templates(owner_client, diving):
    VideoTemplate.objects.filter(pk=diving.pk).update(is_active=False)
    assert "Use Diving" not in owner_client.get(reverse("videos:gallery")).content.decode()
    assert owner_client.get(reverse("videos:job_new", args=[diving.pk])).status_code == 404


def test_it_builds_the_form_from_the_template(owner_client, key, run_for_life):
    response = owner_client.get(reverse("videos:job_new", args=[run_for_life.pk]))
    form = response.context["form"]
    assert set(form.fields) == {"text_0", "media_0", "key", "reference"}
    assert 'placeholder="Lion"' in response.content.decode()


def test_it_creates_a_job_from_the_form(owner_client, key, diving, png, enqueued):
    upload = SimpleUploadedFile("me.png", png, content_type="image/png")
    response = owner_client.post(
        reverse("videos:job_new", args=[diving.pk]),
        {"media_0": upload, "key": key.pk, "reference": "order-7"},
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:job_detail", args=[job.id])
    assert job.status == JobStatus.QUEUED and job.reference == "order-7"
    assert job.attachments.get().width == 640


def test_it_names_the_field_and_rule_for_a_bad_image_and_creates_nothing(owner_client, key, diving):
    tiny = SimpleUploadedFile("me.png", make_image(200, 200), content_type="image/png")
    response = owner_client.post(
        reverse("videos:job_new", args=[diving.pk]), {"media_0": tiny, "key": key.pk}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "media_0" in errors
    assert "shorter side is 200 px" in errors["media_0"][0]
    assert not Job.objects.exists()


def test_it_refuses_another_users_key(owner_client, outsider, diving, png, key):
    from videos.services import key_store

    foreign = key_store(user=outsider, label="Theirs", secret="sk-someone-else-9999")
    upload = SimpleUploadedFile("me.png", png, content_type="image/png")
    response = owner_client.post(
        reverse("videos:job_new", args=[diving.pk]), {"media_0": upload, "key": foreign.pk}
    )
    assert "key" in response.context["form"].errors
    assert not Job.objects.exists()


def test_it_lists_jobs_newest_first_and_pages_by_keyset(owner_client, make_job):
    jobs = [make_job(reference=f"ref-{i}") for i in range(22)]
    first = owner_client.get(reverse("videos:job_list"))
    page = first.context["page"]
    assert [j.reference for j in page.object_list][:2] == ["ref-21", "ref-20"]
    assert len(page.object_list) == 20 and page.has_next and not page.has_previous
    second = owner_client.get(reverse("videos:job_list"), {"after": page.next_cursor})
    older = second.context["page"]
    assert [j.id for j in older.object_list] == [jobs[1].id, jobs[0].id]
    assert not older.has_next and older.has_previous
    assert f"?before={older.previous_cursor}" in second.content.decode()
    back = owner_client.get(reverse("videos:job_list"), {"before": older.previous_cursor})
    assert [j.id for j in back.context["page"].object_list] == [j.id for j in page.object_list]


def test_it_shows_the_first_page_for_a_cursor_it_did_not_write(owner_client, make_job):
    job = make_job()
    for params in ({"after": "garbage!"}, {"before": "e30"}, {"page": "2"}):
        response = owner_client.get(reverse("videos:job_list"), params)
        assert response.status_code == 200
        assert [j.id for j in response.context["page"].object_list] == [job.id]


def test_it_shows_the_team_jobs_to_a_teammate(client, teammate, make_job):
    job = make_job()
    client.force_login(teammate)
    # The teammate's current team is their personal one; the job is still theirs to see.
    assert client.get(reverse("videos:job_detail", args=[job.id])).status_code == 200


def test_it_answers_404_to_an_outsider_on_every_job_page(client, outsider, make_job):
    job = make_job()
    client.force_login(outsider)
    for name in ("job_detail", "job_status", "job_video"):
        assert client.get(reverse(f"videos:{name}", args=[job.id])).status_code == 404
    assert client.post(reverse("videos:job_cancel", args=[job.id])).status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert str(job.id) not in client.get(reverse("videos:job_list")).content.decode()


def test_it_gives_live_status_as_json(owner_client, make_job):
    job = make_job()
    data = owner_client.get(reverse("videos:job_status", args=[job.id])).json()
    assert data["status"] == "queued" and data["terminal"] is False
    assert [e["message"] for e in data["events"]] == ["Job queued"]
    after = data["events"][-1]["id"]
    later = owner_client.get(reverse("videos:job_status", args=[job.id]) + f"?after={after}")
    assert later.json()["events"] == []


def test_it_shows_each_event_in_the_same_shape_as_the_api(owner_client, make_job, upstream):
    job = make_job()
    drive_to_success(job, upstream)
    page = owner_client.get(reverse("videos:job_status", args=[job.id])).json()["events"]
    streamed = {}
    for frame in "".join(job_event_stream(job_id=job.id)).split("\n\n"):
        if frame.startswith("id: "):  # timeline events; not `retry:` or the final `done`
            data = json.loads(frame.split("data: ", 1)[1])
            streamed[data["id"]] = data
    shown = [e for e in page if e["kind"] != "callback"]  # the API does not stream hints
    assert [e["id"] for e in shown] == list(streamed)
    for event in shown:
        expected = dict(streamed[event["id"]])
        if "video" in expected:  # the page plays the file with the session, not the token
            expected["video"] = {
                **expected["video"],
                "url": reverse("videos:job_video", args=[job.id]),
            }
            if "poster_url" in expected["video"]:  # the poster frame, the same way
                frame_id = int(expected["video"]["poster_url"].rstrip("/").rsplit("/", 1)[1])
                expected["video"]["poster_url"] = reverse(
                    "videos:job_file", args=[job.id, frame_id]
                )
        assert event == expected
    assert any("upstream_status" in e for e in shown) and any("video" in e for e in shown)


def test_it_cancels_a_queued_job(owner_client, make_job):
    job = make_job()
    owner_client.post(reverse("videos:job_cancel", args=[job.id]))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.finished_at is not None


def test_it_refuses_to_cancel_a_job_already_submitted(owner_client, make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING, upstream_task_id="1")
    response = owner_client.post(reverse("videos:job_cancel", args=[job.id]), follow=True)
    assert "can no longer be canceled" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING


def test_it_serves_the_input_image_only_through_a_signed_link(client, make_job, png):
    from videos.inputs import input_url_path

    attachment = make_job().attachments.get()
    assert client.get(input_url_path(attachment.pk)).getvalue() == png
    assert client.get(f"/inputs/{attachment.pk}/").status_code == 404
    assert client.get(input_url_path(attachment.pk)[:-3] + "xx/").status_code == 404
