"""The files of a batch being set up in the portal, kept between "Check" and "Create" (a
browser does not send a file twice). Stored under the team's own prefix of the default
storage, named by a random id: another team's id finds nothing."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

from accounts.models import Team
from batches.errors import RowError
from batches.services.files import ImageBox, items_from_csv, items_from_images, open_zip
from batches.services.rows import ItemSpec
from videos.images import MAX_DATA_URL_BYTES
from videos.models import VideoTemplate


def _root(team: Team, draft_id: str) -> str:
    return f"batch-drafts/{team.pk}/{uuid.UUID(draft_id).hex}"


def draft_save(
    *,
    team: Team,
    csv_file: UploadedFile | None,
    zip_file: UploadedFile | None,
    images: list[UploadedFile],
) -> str:
    draft_id = uuid.uuid4().hex
    root = _root(team, draft_id)
    names = []
    if csv_file is not None:
        default_storage.save(f"{root}/rows.csv", csv_file)
    if zip_file is not None:
        default_storage.save(f"{root}/images.zip", zip_file)
    for i, image in enumerate(images):
        name = PurePosixPath(image.name or f"image-{i}").name
        stored = default_storage.save(f"{root}/images/{i:05d}", image)
        names.append({"path": stored, "name": name})
    manifest = {"csv": csv_file is not None, "zip": zip_file is not None, "images": names}
    default_storage.save(f"{root}/draft.json", ContentFile(json.dumps(manifest).encode()))
    return draft_id


def _manifest(team: Team, draft_id: str) -> dict | None:
    try:
        root = _root(team, draft_id)
    except ValueError:
        return None
    if not default_storage.exists(f"{root}/draft.json"):
        return None
    with default_storage.open(f"{root}/draft.json", "rb") as stored:
        return json.loads(stored.read())


@contextmanager
def draft_items(*, team: Team, template: VideoTemplate, draft_id: str):
    """(items, errors) of a saved draft, its ZIP kept open while the caller works; None
    for errors' list's place when the draft is gone (expired, or another team's)."""
    manifest = _manifest(team, draft_id)
    if manifest is None:
        yield None
        return
    root = _root(team, draft_id)
    opened = []
    try:
        if manifest["images"]:
            uploads = []
            for image in manifest["images"]:
                with default_storage.open(image["path"], "rb") as stored:
                    data = stored.read(MAX_DATA_URL_BYTES + 1)
                uploads.append(SimpleUploadedFile(image["name"], data))
            yield items_from_images(template, uploads)
            return
        archive = None
        errors: list[RowError] = []
        if manifest["zip"]:
            stored_zip = default_storage.open(f"{root}/images.zip", "rb")
            opened.append(stored_zip)
            archive, problem = open_zip(stored_zip)
            if problem:
                errors.append(
                    RowError(index=0, field="file", message=problem, line=None, column="")
                )
        if not manifest["csv"]:
            yield [], [*errors, _no_csv()]
            return
        with default_storage.open(f"{root}/rows.csv", "rb") as stored:
            raw = stored.read()
        items, row_errors = items_from_csv(template, raw, ImageBox(archive))
        yield items, errors + row_errors
    finally:
        for handle in opened:
            handle.close()


def _no_csv() -> RowError:
    return RowError(
        index=0, field="file", message="upload a CSV, or images for a template of one image"
    )


def draft_delete(*, team: Team, draft_id: str) -> None:
    manifest = _manifest(team, draft_id)
    if manifest is None:
        return
    root = _root(team, draft_id)
    paths = [image["path"] for image in manifest["images"]]
    paths += [f"{root}/rows.csv", f"{root}/images.zip", f"{root}/draft.json"]
    for path in paths:
        if default_storage.exists(path):
            default_storage.delete(path)


__all__ = ["ItemSpec", "draft_delete", "draft_items", "draft_save"]
