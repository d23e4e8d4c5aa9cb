"""What the user gives (files, `--text` values, a CSV and a ZIP of images) turned into the
API's inputs, checked here first so a typo is reported by line before anything is sent."""

from __future__ import annotations

import base64
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# The types every provider takes (GET /templates `image_types` says which one takes what).
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
REFERENCE_COLUMNS = {"reference", "ref"}
IMAGE_PREFIXES = ("image", "media", "photo")
TEXT_COLUMN = re.compile(r"text(_?\d+)?")


class InputError(Exception):
    """A bad input of the user's, with where it is (`rows.csv line 4, column image`)."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def image_type(raw: bytes) -> str | None:
    for signature, content_type in SIGNATURES.items():
        if raw.startswith(signature):
            return content_type
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def data_url(raw: bytes, where: str) -> str:
    content_type = image_type(raw)
    if content_type is None:
        raise InputError(where, "not a PNG, JPEG or WebP image")
    return f"data:{content_type};base64,{base64.b64encode(raw).decode()}"


def media_value(value: str, where: str, *, images: ImageSource) -> str:
    """An http(s) URL as it is (the portal fetches and checks it); a file as a data URL."""
    value = value.strip()
    if value.startswith(("https://", "http://")):
        return value
    if not value:
        raise InputError(where, "an image is required")
    return data_url(images.read(value, where), where)


def text_values(texts: list[str], slots: int) -> list[str]:
    """`--text VALUE` in the template's order, or `--text N=VALUE` for slot N (1-based)."""
    placed: dict[int, str] = {}
    following = 1
    for text in texts:
        slot, sep, value = text.partition("=")
        if sep and slot.strip().isdigit():
            index = int(slot)
        else:
            index, value = following, text
        if not 1 <= index <= max(slots, 1):
            raise InputError(
                f"--text {text!r}", f"this template takes {slots} text input(s), not #{index}"
            )
        placed[index] = value
        following = index + 1
    return [placed[i] for i in sorted(placed)]


class ImageSource:
    """Images named by file: inside a ZIP (by path or by bare name), else beside the CSV."""

    def __init__(self, *, folder: Path, archive: Path | None = None):
        self.folder = folder
        self.names: dict[str, str] = {}
        self.zip: zipfile.ZipFile | None = None
        if archive is not None:
            try:
                self.zip = zipfile.ZipFile(archive)
            except (OSError, zipfile.BadZipFile) as exc:
                raise InputError(str(archive), f"not a readable ZIP file ({exc})") from None
            for info in self.zip.infolist():
                if info.is_dir() or PurePosixPath(info.filename).name.startswith("."):
                    continue
                self.names.setdefault(info.filename, info.filename)
                self.names.setdefault(PurePosixPath(info.filename).name, info.filename)

    def read(self, name: str, where: str) -> bytes:
        if self.zip is not None:
            member = self.names.get(name) or self.names.get(PurePosixPath(name).name)
            if member is not None:
                return self.zip.read(member)
        path = Path(name) if Path(name).is_absolute() else self.folder / name
        if path.is_file():
            return path.read_bytes()
        inside = " in the ZIP or" if self.zip is not None else ""
        raise InputError(where, f"no image named {name!r}{inside} at {path}")


@dataclass
class Rows:
    items: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the CSV line of each item
    errors: list[InputError] = field(default_factory=list)


def read_rows(csv_path: Path, *, images: ImageSource, template: dict) -> Rows:
    """Each row one video: columns `image` (or `image_2`, `media`, `photo` ...) name an image
    file or URL, `reference` is echoed back, every other column is a text input, in column
    order. Every row is checked; all errors are returned together."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(csv_path), f"cannot read it as UTF-8 text ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    if not columns:
        raise InputError(str(csv_path), "empty: expected a header row and one row per video")
    image_columns = [c for c in columns if c.lower().startswith(IMAGE_PREFIXES)]
    # The portal's batch form reads `text`, `text_1`, `text_2` ...: those first; a CSV
    # without them has its other columns read as texts, in column order.
    text_columns = [c for c in columns if TEXT_COLUMN.fullmatch(c.lower())] or [
        c for c in columns if c not in image_columns and c.lower() not in REFERENCE_COLUMNS
    ]
    reference_column = next((c for c in columns if c.lower() in REFERENCE_COLUMNS), None)
    rows = Rows()
    wanted_media, wanted_text = template["media_inputs"], template["text_inputs"]
    if len(image_columns) < wanted_media:
        rows.errors.append(
            InputError(
                csv_path.name,
                f"{template['name']} takes {wanted_media} image column(s), "
                f"the CSV has {len(image_columns)} ({', '.join(image_columns) or 'none'})",
            )
        )
    if len(text_columns) < wanted_text:
        rows.errors.append(
            InputError(
                csv_path.name,
                f"{template['name']} takes {wanted_text} text column(s), "
                f"the CSV has {len(text_columns)}",
            )
        )
    if rows.errors:
        return rows
    for record in reader:
        line = reader.line_num
        record = {(k or "").strip(): (v or "") for k, v in record.items()}
        if not any(v.strip() for v in record.values()):
            continue  # a blank line
        item: dict = {"text_inputs": [], "media_inputs": []}
        for column in image_columns[:wanted_media]:
            try:
                item["media_inputs"].append(
                    {
                        "value": media_value(
                            record.get(column, ""),
                            f"{csv_path.name} line {line}, column {column}",
                            images=images,
                        )
                    }
                )
            except InputError as exc:
                rows.errors.append(exc)
        for column in text_columns[:wanted_text]:
            value = record.get(column, "").strip()
            if not value:
                rows.errors.append(
                    InputError(
                        f"{csv_path.name} line {line}, column {column}", "a text is required"
                    )
                )
            item["text_inputs"].append({"value": value})
        if reference_column and record.get(reference_column, "").strip():
            item["reference"] = record[reference_column].strip()
        rows.items.append(item)
        rows.lines.append(line)
    if not rows.items and not rows.errors:
        rows.errors.append(InputError(csv_path.name, "no rows: one row per video is expected"))
    return rows
