"""Stored videos in S3: private objects, handed to their owners as short-lived signed URLs.

Needs an S3 server: runs in `make test-services` (moto's server). The local-file behaviour of
the same view (streaming after the permission check) is covered in both legs below.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import reverse
from django.utils import timezone

from tests.fakes import MP4
from videos.models import Attachment, AttachmentKind, Job, JobStatus

needs_s3 = pytest.mark.skipif(
    not django_settings.S3_BUCKET,
    reason="needs S3 (S3_BUCKET; moto's server in `make test-services`)",
)


@pytest.fixture
def video_job(make_job):
    job = make_job()
    attachment = Attachment(
        job=job, kind=AttachmentKind.RESULT, content_type="video/mp4", bytes=len(MP4)
    )
    attachment.file.save("video.mp4", ContentFile(MP4), save=True)
    # A result exists only for a finished job (Job.result does not look for a queued one).
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    job.refresh_from_db()
    return job


@needs_s3
def test_it_redirects_the_owner_to_a_short_lived_signed_url(owner_client, video_job):
    response = owner_client.get(reverse("videos:job_video", args=[video_job.id]))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    signed = response["Location"]
    query = parse_qs(urlsplit(signed).query)
    assert query["X-Amz-Expires"] == [str(django_settings.S3_URL_EXPIRE_SECONDS)]
    assert int(query["X-Amz-Expires"][0]) <= 900
    assert "X-Amz-Signature" in query
    assert signed.startswith(django_settings.S3_ENDPOINT_URL)

    fetched = requests.get(signed, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == MP4


@needs_s3
def test_it_signs_a_download_link_that_names_the_file(owner_client, video_job):
    url = reverse("videos:job_video", args=[video_job.id]) + "?download=1"
    response = owner_client.get(url)
    assert response.status_code == 302
    fetched = requests.get(response["Location"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == MP4
    name = f"diving-{str(video_job.id)[:8]}.mp4"
    assert fetched.headers["Content-Disposition"] == f'attachment; filename="{name}"'


@needs_s3
def test_it_keeps_the_bucket_private(video_job):
    name = video_job.result.file.name
    unsigned = f"{django_settings.S3_ENDPOINT_URL}/{django_settings.S3_BUCKET}/{name}"
    assert requests.get(unsigned, timeout=10).status_code == 403
    storage = storages["default"]
    grants = storage.connection.meta.client.get_object_acl(Bucket=storage.bucket_name, Key=name)[
        "Grants"
    ]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert all(grant["Grantee"]["Type"] == "CanonicalUser" for grant in grants)


@needs_s3
def test_it_lets_a_teammate_have_the_signed_url(client, teammate, video_job):
    client.force_login(teammate)
    response = client.get(reverse("videos:job_video", args=[video_job.id]))
    assert response.status_code == 302


def test_it_answers_404_to_an_outsider_and_signs_nothing(client, outsider, video_job):
    client.force_login(outsider)
    response = client.get(reverse("videos:job_video", args=[video_job.id]))
    assert response.status_code == 404
    assert "X-Amz" not in response.get("Location", "")


def test_it_answers_404_when_there_is_no_video_yet(owner_client, make_job):
    job = make_job()
    assert owner_client.get(reverse("videos:job_video", args=[job.id])).status_code == 404


@pytest.mark.skipif(
    bool(django_settings.S3_BUCKET), reason="local files only; S3 storage redirects instead"
)
def test_it_streams_local_files_through_the_app(owner_client, video_job):
    response = owner_client.get(reverse("videos:job_video", args=[video_job.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == MP4
