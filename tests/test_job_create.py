from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import KeyStatus
from tests.conftest import ART_FONTS, make_image
from videos.errors import JobInputError, NoUsableKeyError
from videos.models import Job, JobEvent, JobStatus, VideoTemplate
from videos.services import MediaInput, key_store


def upload(data: bytes, name: str = "me.png") -> MediaInput:
    return MediaInput(upload=SimpleUploadedFile(name, data))


def test_it_queues_the_job_with_its_image_and_enqueues_the_submit(make_job, enqueued, png):
    job = make_job()
    assert job.status == JobStatus.QUEUED
    assert job.cost_cents == 40
    attachment = job.attachments.get()
    assert (attachment.width, attachment.height, attachment.content_type) == (640, 480, "image/png")
    assert attachment.file.read() == png
    assert list(JobEvent.objects.filter(job=job).values_list("message", flat=True)) == [
        "Job queued"
    ]
    assert enqueued == [("videos.tasks.submit_job", (str(job.id),), {})]


def test_it_leaves_the_key_to_the_pool_when_none_is_named(make_job, owner, key):
    job = make_job(key_id=None)
    assert (job.key, job.key_pinned) == (None, False)  # chosen when it is submitted
    pinned = make_job()
    assert (pinned.key, pinned.key_pinned) == (key, True)


@pytest.mark.parametrize(
    ("text_inputs", "field", "message"),
    [
        ([], "text_inputs", "takes 1 text input(s), got 0"),
        (["  "], "text_inputs[0]", "must not be empty"),
        (["x" * 501], "text_inputs[0]", "at most 500 characters"),
        (["Li\u200bon"], "text_inputs[0]", "invisible"),
    ],
)
def test_it_names_the_bad_text_input(make_job, run_for_life, png, text_inputs, field, message):
    with pytest.raises(JobInputError) as error:
        make_job(template=run_for_life, text_inputs=text_inputs)
    assert error.value.field == field
    assert message in error.value.message
    assert not Job.objects.exists()


def test_it_counts_media_inputs(make_job, png):
    with pytest.raises(JobInputError) as error:
        make_job(media_inputs=[upload(png), upload(png)])
    assert error.value.field == "media_inputs"
    assert "takes 1 image(s), got 2" in error.value.message


def test_it_checks_every_image_before_storing_anything(make_job):
    with pytest.raises(JobInputError) as error:
        make_job(media_inputs=[upload(make_image(1000, 300))])
    assert error.value.field == "media_inputs[0]"
    assert "shorter side is 300 px" in error.value.message
    assert not Job.objects.exists()


def test_it_passes_public_image_urls_through(make_job):
    job = make_job(media_inputs=[MediaInput(url="https://example.com/me.png")])
    assert job.media_urls == ["https://example.com/me.png"]
    assert not job.attachments.exists()


def test_it_refuses_a_media_value_that_is_not_an_image_or_url(make_job):
    with pytest.raises(JobInputError) as error:
        make_job(media_inputs=[MediaInput(url="ftp://example.com/me.png")])
    assert error.value.field == "media_inputs[0]"


def test_it_needs_a_usable_key(make_job, key):
    key.status = KeyStatus.INVALID
    key.save()
    with pytest.raises(NoUsableKeyError):
        make_job(key_id=None)
    with pytest.raises(JobInputError) as error:
        make_job(key_id=key.pk)
    assert error.value.field == "key_id"
    assert not Job.objects.exists()


def test_it_refuses_a_key_of_another_region(make_job, owner):
    cn = key_store(user=owner, label="China", secret="sk-china-key-1234", region="cn")
    with pytest.raises(JobInputError) as error:
        make_job(key_id=cn.pk)
    assert error.value.field == "key_id" and "Global" in error.value.message


def test_it_refuses_an_inactive_template(make_job, diving):
    VideoTemplate.objects.filter(pk=diving.pk).update(is_active=False)
    diving.refresh_from_db()
    with pytest.raises(JobInputError) as error:
        make_job(template=diving)
    assert error.value.field == "template_id"


def test_it_takes_text_only_templates(make_job, catalogue):
    fonts = VideoTemplate.objects.get(template_id=ART_FONTS)
    job = make_job(template=fonts, text_inputs=["  Hello  "], media_inputs=[])
    assert job.text_inputs == ["Hello"]
