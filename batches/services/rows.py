"""A batch's items and their checks: every item is checked, and every error of every item
reported (index, field; line and column for a file), before anything is made.

The checks are videos' own (videos.inputs, the provider's rules), so an item that passes
here is one job_create accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.uploadedfile import UploadedFile

from batches.errors import BatchInputError, RowError
from videos import inputs, remote_images
from videos.errors import JobInputError
from videos.inputs import MediaInput
from videos.models import VideoTemplate
from videos.providers import provider_for

MAX_REFERENCE = 200


@dataclass(frozen=True)
class MediaSource:
    """One image of an item: a URL, an upload in hand, or a file opened when needed (a
    member of an uploaded ZIP: read one at a time, never all at once)."""

    url: str = ""
    upload: UploadedFile | None = None
    open: Callable[[], UploadedFile] | None = None
    # A problem found while reading the file (no such name in the ZIP): reported as the
    # item's error, with everything else wrong with it.
    problem: str = ""


@dataclass
class ItemSpec:
    texts: list[str]
    media: list[MediaSource]
    reference: str = ""
    # Where the item came from in a file: its line, and the column of each field
    # ("text_inputs[0]" -> "text"), so errors can point at the cell.
    line: int | None = None
    columns: dict[str, str] = field(default_factory=dict)


def media_inputs(template: VideoTemplate, spec: ItemSpec, *, prefix: str = "") -> list[MediaInput]:
    """The item's images as job_create takes them: files opened, and for a provider that
    needs the image itself (useapi.net) URLs fetched and checked like an upload."""
    fetch_urls = not provider_for(template.provider).rules.media_urls
    found = []
    for i, source in enumerate(spec.media):
        if source.problem:
            raise JobInputError(f"media_inputs[{i}]", source.problem)
        if source.open is not None:
            found.append(MediaInput(upload=source.open()))
        elif source.upload is not None:
            found.append(MediaInput(upload=source.upload))
        elif fetch_urls:
            found.append(
                MediaInput(upload=remote_images.fetch(f"{prefix}media_inputs[{i}]", source.url))
            )
        else:
            found.append(MediaInput(url=source.url))
    return found


def _row_error(index: int, spec: ItemSpec, item_field: str, message: str) -> RowError:
    base = item_field.split(".")[0]
    column = spec.columns.get(base) or spec.columns.get(base.split("[")[0], "")
    return RowError(
        index=index,
        field=f"items[{index}].{item_field}",
        message=message,
        line=spec.line,
        column=column,
    )


def item_errors(template: VideoTemplate, index: int, spec: ItemSpec) -> list[RowError]:
    """Everything wrong with one item (each of texts, images and reference checked)."""
    rules = provider_for(template.provider).rules
    errors: list[RowError] = []
    try:
        inputs.check_texts(template, spec.texts, rules)
    except JobInputError as exc:
        errors.append(_row_error(index, spec, exc.field, exc.message))
    if len(spec.reference) > MAX_REFERENCE:
        errors.append(_row_error(index, spec, "reference", f"at most {MAX_REFERENCE} characters"))
    if len(spec.media) != template.media_inputs:
        errors.append(
            _row_error(
                index,
                spec,
                "media_inputs",
                f"{template.name} takes {template.media_inputs} image(s), got {len(spec.media)}",
            )
        )
        return errors
    for i, source in enumerate(spec.media):
        name = f"media_inputs[{i}]"
        try:
            (media,) = media_inputs(template, ItemSpec(texts=[], media=[source]))
            inputs.check_media(name, media, rules)
        except JobInputError as exc:
            # The rule's own field names the first image; point at this one.
            errors.append(_row_error(index, spec, name, exc.message))
        finally:
            source_upload_close(source)
    return errors


def source_upload_close(source: MediaSource) -> None:
    """A file opened for a check is let go at once (ZIP members are read one at a time)."""
    if source.upload is not None:
        source.upload.seek(0)


def items_check(template: VideoTemplate, items: list[ItemSpec], *, max_items: int) -> None:
    """Raise BatchInputError listing every bad item, or return: all or nothing."""
    if not items:
        raise BatchInputError(
            [RowError(index=0, field="items", message="give at least one item")],
            message="items: give at least one item",
        )
    if len(items) > max_items:
        raise BatchInputError(
            [
                RowError(
                    index=max_items,
                    field="items",
                    message=f"at most {max_items} items per batch, got {len(items)}",
                )
            ],
            message=f"items: at most {max_items} items per batch, got {len(items)}",
        )
    errors = [e for index, spec in enumerate(items) for e in item_errors(template, index, spec)]
    if errors:
        raise BatchInputError(errors)
