"""Files for batch tests: a CSV of rows and a ZIP of the images they name."""

from __future__ import annotations

import csv
import io
import zipfile

from tests.conftest import make_image


def csv_bytes(rows: list[dict], header: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"photos/{name}", data)
    return buffer.getvalue()


def product_rows(n: int) -> tuple[list[dict], dict[str, bytes]]:
    """n rows of a one-image template, each naming its own photo in the ZIP."""
    photo = make_image(640, 480)
    rows = [{"image": f"p{i:03d}.png", "reference": f"sku-{i:03d}"} for i in range(n)]
    return rows, {row["image"]: photo for row in rows}
