"""A batch from files, for the portal: a CSV (one row per video; text inputs by column name,
images by URL or by the name of a file inside an uploaded ZIP), or many images for a
template that takes one image and no text. Problems of the file itself (a missing column, a
name not in the ZIP) are reported like the items' own errors: by line and column.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

from batches.errors import RowError
from batches.services.rows import ItemSpec, MediaSource
from videos.images import MAX_DATA_URL_BYTES
from videos.models import VideoTemplate

REFERENCE = "reference"
MAX_CSV_BYTES = 5 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def column_names(template: VideoTemplate) -> tuple[list[str], list[str]]:
    """The CSV's columns for the template's text inputs and images: `text` and `image` for
    one, `text_1`, `text_2` ... for several."""

    def names(kind: str, count: int) -> list[str]:
        return [kind] if count == 1 else [f"{kind}_{i + 1}" for i in range(count)]

    return names("text", template.text_inputs), names("image", template.media_inputs)


def csv_header(template: VideoTemplate) -> list[str]:
    texts, images = column_names(template)
    return [*texts, *images, REFERENCE]


class ImageBox:
    """The images of an uploaded ZIP, by file name (folders ignored, case kept), each read
    only when it is checked or stored, and never beyond the image size limit."""

    def __init__(self, archive: zipfile.ZipFile | None):
        self.archive = archive
        self.members: dict[str, zipfile.ZipInfo] = {}
        if archive is not None:
            for info in archive.infolist():
                name = PurePosixPath(info.filename).name
                if info.is_dir() or not name or name.startswith("."):
                    continue
                self.members.setdefault(name, info)

    def source(self, name: str) -> MediaSource:
        info = self.members.get(PurePosixPath(name).name)
        if info is None:
            where = "the ZIP of images" if self.archive is not None else "a ZIP (none uploaded)"
            return MediaSource(problem=f"no file named “{name}” in {where}")
        if info.file_size > MAX_DATA_URL_BYTES:
            return MediaSource(problem=f"“{name}” is over 20 MB")
        return MediaSource(open=self._opener(info))

    def _opener(self, info: zipfile.ZipInfo) -> Callable[[], UploadedFile]:
        archive = self.archive
        assert archive is not None

        def open_member() -> UploadedFile:
            with archive.open(info) as member:
                # The declared size can lie: never read more than the limit (and one byte).
                data = member.read(MAX_DATA_URL_BYTES + 1)
            return SimpleUploadedFile(PurePosixPath(info.filename).name, data)

        return open_member


def open_zip(upload) -> tuple[zipfile.ZipFile | None, str]:
    """The ZIP, or None and why it cannot be read."""
    if upload is None:
        return None, ""
    try:
        return zipfile.ZipFile(upload), ""
    except (zipfile.BadZipFile, OSError, ValueError):
        return None, "this is not a ZIP file"


def items_from_csv(
    template: VideoTemplate, raw: bytes, box: ImageBox
) -> tuple[list[ItemSpec], list[RowError]]:
    """One item per data row (line 2 onwards); errors of the file's shape by line/column."""
    texts, images = column_names(template)
    if len(raw) > MAX_CSV_BYTES:
        return [], [_file_error(1, "", "the CSV must be under 5 MB")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [_file_error(1, "", "the CSV must be UTF-8 text")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [_file_error(1, "", "the CSV is empty")]
    except csv.Error as exc:
        return [], [_file_error(1, "", f"not a readable CSV ({exc})")]
    expected = [*texts, *images, REFERENCE]
    errors = [
        _file_error(1, name, f"unknown column; expected {', '.join(expected)}")
        for name in header
        if name and name not in expected
    ]
    errors += [
        _file_error(1, name, "missing column") for name in (*texts, *images) if name not in header
    ]
    if errors:
        return [], errors
    position = {name: header.index(name) for name in expected if name in header}
    items: list[ItemSpec] = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                line = reader.line_num + 1
                continue  # a blank line is no video

            def cell(name: str, cells=cells) -> str:
                i = position.get(name)
                return cells[i].strip() if i is not None and i < len(cells) else ""

            media = []
            for name in images:
                value = cell(name)
                if value.startswith(("https://", "http://")):
                    media.append(MediaSource(url=value))
                elif value:
                    media.append(box.source(value))
                else:
                    media.append(MediaSource(problem="empty: give an image URL or a file name"))
            columns = {f"text_inputs[{i}]": name for i, name in enumerate(texts)}
            columns.update({f"media_inputs[{i}]": name for i, name in enumerate(images)})
            columns.update({"text_inputs": texts[0] if texts else "", REFERENCE: REFERENCE})
            items.append(
                ItemSpec(
                    texts=[cell(name) for name in texts],
                    media=media,
                    reference=cell(REFERENCE),
                    line=line,
                    columns=columns,
                )
            )
            line = reader.line_num + 1
    except csv.Error as exc:
        errors.append(_file_error(reader.line_num, "", f"not a readable CSV ({exc})"))
    if not items and not errors:
        errors.append(_file_error(2, "", "the CSV has a header but no rows"))
    return items, errors


def items_from_images(
    template: VideoTemplate, uploads: Sequence[UploadedFile]
) -> tuple[list[ItemSpec], list[RowError]]:
    """One item per image, for a template of one image and no text; the file name is the
    item's reference."""
    if template.media_inputs != 1 or template.text_inputs:
        return [], [
            _file_error(1, "images", "only for a template of one image and no text: use a CSV")
        ]
    items = [
        ItemSpec(
            texts=[],
            media=[MediaSource(upload=upload)],
            reference=PurePosixPath(upload.name or "").name[:200],
            line=i + 1,
            columns={"media_inputs[0]": upload.name or "", REFERENCE: upload.name or ""},
        )
        for i, upload in enumerate(uploads)
    ]
    return items, []


def _file_error(line: int, column: str, message: str) -> RowError:
    return RowError(index=max(0, line - 2), field="file", message=message, line=line, column=column)
