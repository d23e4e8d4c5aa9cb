"""The batches services below the pages and the API: reading files into items, ending (and
the sweep that catches a lost end), retry reopening a batch."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import Batch
from batches.services import ItemSpec, MediaSource, batch_create, batches_sweep
from batches.services.files import ImageBox, items_from_csv, items_from_images, open_zip
from tests.conftest import make_image
from videos.models import JobStatus


def box(files: dict[str, bytes] | None = None) -> ImageBox:
    if files is None:
        return ImageBox(None)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return ImageBox(zipfile.ZipFile(io.BytesIO(buffer.getvalue())))


def test_it_reads_rows_by_line_skipping_blank_ones_and_a_bom(diving):
    raw = "\ufeffimage,reference\nhttps://x.example/a.png,a\n\n,b\nfolder/c.png,c\n".encode()
    items, errors = items_from_csv(diving, raw, box({"photos/c.png": make_image()}))
    assert errors == []
    assert [(i.line, i.reference) for i in items] == [(2, "a"), (4, "b"), (5, "c")]
    assert items[0].media[0].url == "https://x.example/a.png"
    assert "empty" in items[1].media[0].problem
    opened = items[2].media[0].open()  # found by its name, whatever folder it is in
    assert opened.read() == make_image()


def test_it_counts_lines_of_quoted_multi_line_cells(run_for_life):
    raw = b'text,image\n"two\nlines",https://x.example/a.png\nLion,https://x.example/b.png\n'
    items, errors = items_from_csv(run_for_life, raw, box())
    assert errors == [] and [i.line for i in items] == [2, 4]
    assert items[0].texts == ["two\nlines"]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "the CSV is empty"),
        (b"\xff\xfe\x00i", "the CSV must be UTF-8 text"),
        (b"image\n", "the CSV has a header but no rows"),
    ],
)
def test_it_names_what_is_wrong_with_the_file_itself(diving, raw, message):
    items, errors = items_from_csv(diving, raw, box())
    assert items == [] and [e.message for e in errors] == [message]


def test_it_says_a_name_is_not_in_the_zip_or_that_there_is_no_zip(diving):
    (item,), _ = items_from_csv(diving, b"image\nshoe.png\n", box({"other.png": b"x"}))
    assert item.media[0].problem == "no file named “shoe.png” in the ZIP of images"
    (item,), _ = items_from_csv(diving, b"image\nshoe.png\n", box())
    assert "none uploaded" in item.media[0].problem


def test_it_refuses_a_file_that_is_not_a_zip():
    archive, problem = open_zip(SimpleUploadedFile("x.zip", b"not a zip"))
    assert archive is None and problem == "this is not a ZIP file"


def test_it_takes_dropped_images_only_for_a_template_of_one_image(diving, run_for_life):
    images = [SimpleUploadedFile("a.png", make_image())]
    items, errors = items_from_images(diving, images)
    assert errors == [] and items[0].reference == "a.png"
    items, errors = items_from_images(run_for_life, images)
    assert items == [] and "use a CSV" in errors[0].message


@pytest.fixture
def batch(team, owner, key, diving, enqueued, django_capture_on_commit_callbacks):
    specs = [
        ItemSpec(texts=[], media=[MediaSource(upload=SimpleUploadedFile(f"{i}.png", make_image()))])
        for i in range(2)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        return batch_create(team=team, user=owner, template=diving, items=specs)


def test_it_finishes_a_batch_whose_end_was_lost_from_the_sweep(batch):
    from notifications.models import Notification
    from videos.services import job_fail

    for item in batch.items.all():
        job_fail(item.job_id, code="upstream_failed", message="no")  # on_commit never runs
    assert Batch.objects.get(pk=batch.pk).finished_at is None
    assert batches_sweep() == 1
    assert Batch.objects.get(pk=batch.pk).finished_at is not None
    assert batches_sweep() == 0
    assert Notification.objects.filter(kind="batch_finished").count() == 1


def test_it_reopens_on_retry_and_announces_the_second_end_too(
    batch, owner, enqueued, django_capture_on_commit_callbacks
):
    from batches.services import batch_cancel, batch_retry_failed
    from notifications.models import Notification
    from videos.services import job_fail

    with django_capture_on_commit_callbacks(execute=True):
        for item in batch.items.all():
            job_fail(item.job_id, code="upstream_failed", message="no")
    assert Batch.objects.get(pk=batch.pk).finished_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_retry_failed(batch=batch, user=owner) == 2
    assert Batch.objects.get(pk=batch.pk).finished_at is None
    with django_capture_on_commit_callbacks(execute=True):
        batch_cancel(batch=batch)
    assert Batch.objects.get(pk=batch.pk).finished_at is not None
    current = batch.items.filter(superseded=False)
    assert {i.job.status for i in current} == {JobStatus.CANCELED}
    assert Notification.objects.filter(kind="batch_finished").count() == 2
