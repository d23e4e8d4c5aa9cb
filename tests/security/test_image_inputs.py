"""Hostile and odd images, through both doors a job's image comes in by (the API's data URL,
the portal's multipart form): a clear refusal naming the input, or a documented acceptance;
never a 5xx, and nothing stored on refusal. Every image is made here with Pillow.

The table (CASES) is the documentation: what each kind of file gets, and why. The rules are
MiniMax's (the seeded templates): JPEG, PNG or WebP by content, under 20 MB, shorter side
over 300 px, aspect between 2:5 and 5:2, at most 40 MP, and decodable to the end.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin

from billing.models import LedgerEntry
from tests.apiclient import data_url
from tests.conftest import DIVING
from videos.models import Attachment, AttachmentKind, Job


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(width: int = 640, height: int = 480, mode: str = "RGB") -> Image.Image:
    # A gradient rather than a flat colour: real compressed data, so cuts land in pixels.
    img = Image.linear_gradient("L").resize((width, height))
    return img.convert(mode) if mode != "L" else img


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its (one-byte) data does not hold: a bomb's shape."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + png_chunk(b"IEND", b"")
    )


def png_padded_to(size: int) -> bytes:
    """A valid PNG carrying an ancillary chunk that makes it `size` bytes: over the limit
    without Pillow having to make megapixels."""
    base = encode(photo(), "PNG")
    pad = size - len(base) - 12
    iend = base.rindex(b"IEND") - 4
    return base[:iend] + png_chunk(b"zzPd", b"\x00" * pad) + base[iend:]


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<script>alert(document.domain)</script>")
    return buffer.getvalue()


def animated(fmt: str) -> bytes:
    frames = [photo(640, 480, "RGB"), Image.new("RGB", (640, 480), (200, 30, 30))]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def png_with_html_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<html><script>alert(1)</script></html>")
    return encode(photo(), "PNG", pnginfo=info)


def bad_crc_png() -> bytes:
    data = bytearray(encode(photo(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # a flipped byte inside the compressed pixels
    return bytes(data)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], bytes]
    filename: str
    outcome: str  # "accept" or "refuse"
    why: str


CASES = [
    Case("PNG", lambda: encode(photo(), "PNG"), "me.png", "accept", "the reference case"),
    Case(
        "truncated PNG",
        lambda: encode(photo(), "PNG")[:-300],
        "me.png",
        "refuse",
        "decoding to the end finds the cut",
    ),
    Case(
        "truncated JPEG",
        lambda: encode(photo(), "JPEG")[:2000],
        "me.jpg",
        "refuse",
        "decoding to the end finds the cut (verify() would not)",
    ),
    Case(
        "truncated WebP",
        lambda: encode(photo(), "WEBP")[:500],
        "me.webp",
        "refuse",
        "decoding to the end finds the cut",
    ),
    Case(
        "PNG with a flipped byte in its pixels",
        bad_crc_png,
        "me.png",
        "refuse",
        "the chunk's CRC or the inflated data is wrong",
    ),
    Case(
        "polyglot PNG+ZIP",
        lambda: encode(photo(), "PNG") + zip_archive(),
        "me.png",
        "accept",
        "a valid PNG to every decoder; it is stored and served as image/png with nosniff, "
        "so nothing reads the archive behind it",
    ),
    Case(
        "polyglot PNG+HTML (appended)",
        lambda: encode(photo(), "PNG") + b"<html><script>alert(1)</script></html>",
        "me.png",
        "accept",
        "as above: served as image/png with nosniff, never as a page",
    ),
    Case(
        "PNG with HTML in a text chunk",
        png_with_html_text,
        "me.png",
        "accept",
        "metadata is no markup to an image decoder; served as image/png with nosniff",
    ),
    Case(
        "HTML named .png",
        lambda: b"<html><script>alert(1)</script></html>\n" * 20,
        "me.png",
        "refuse",
        "the content decides, not the name",
    ),
    Case(
        "HTML then PNG",
        lambda: b"<html><body>x</body></html>" + encode(photo(), "PNG"),
        "me.png",
        "refuse",
        "not an image at its start",
    ),
    Case(
        "decompression bomb (header claims 30000x30000)",
        lambda: png_claiming(30000, 30000),
        "bomb.png",
        "refuse",
        "900 MP is refused from the header, before any decoding",
    ),
    Case(
        "huge dimensions (7000x7000, 49 MP)",
        lambda: encode(Image.new("L", (7000, 7000), 128), "PNG"),
        "big.png",
        "refuse",
        "over the 40 MP cap, refused before decoding",
    ),
    Case(
        "large but allowed (6000x6000, 36 MP)",
        lambda: encode(Image.new("L", (6000, 6000), 128), "PNG"),
        "big.png",
        "accept",
        "under the 40 MP cap: decoded once (about 36 MB for a grey image) and accepted",
    ),
    Case(
        "over 20 MB (a padded PNG)",
        lambda: png_padded_to(20 * 1024 * 1024 + 10),
        "heavy.png",
        "refuse",
        "the size limit, before decoding",
    ),
    Case(
        "CMYK JPEG",
        lambda: encode(photo(mode="CMYK"), "JPEG"),
        "print.jpg",
        "accept",
        "a JPEG the upstream's format list includes; colour handling is the upstream's",
    ),
    Case(
        "16-bit greyscale PNG",
        lambda: encode(photo(mode="I;16"), "PNG"),
        "deep.png",
        "accept",
        "a PNG of another bit depth is still a PNG",
    ),
    Case("animated GIF", lambda: animated("GIF"), "anim.gif", "refuse", "GIF is not taken"),
    Case(
        "animated PNG (APNG)",
        lambda: animated("PNG"),
        "anim.png",
        "accept",
        "an APNG is a PNG whose first frame every decoder shows; the upstream sees a PNG",
    ),
    Case(
        "animated WebP",
        lambda: animated("WEBP"),
        "anim.webp",
        "accept",
        "a WebP; the upstream takes its first frame",
    ),
    Case("zero bytes", lambda: b"", "empty.png", "refuse", "the file is empty"),
    Case(
        "JPEG named .png",
        lambda: encode(photo(), "JPEG"),
        "me.png",
        "accept",
        "the content decides the type: stored as image/jpeg",
    ),
    Case(
        "PNG named .exe",
        lambda: encode(photo(), "PNG"),
        "setup.exe",
        "accept",
        "the name plays no part; stored under the portal's own name",
    ),
    Case("tiny PNG (100x100)", lambda: encode(photo(100, 100), "PNG"), "me.png", "refuse", "short"),
    Case("BMP", lambda: encode(photo(), "BMP"), "me.bmp", "refuse", "BMP is not taken"),
    Case(
        "SVG",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"/>',
        "me.svg",
        "refuse",
        "not a raster image the upstream takes (and a script carrier)",
    ),
]


def stored() -> tuple[int, int, int, int]:
    root = settings.MEDIA_ROOT
    files = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    return Job.objects.count(), Attachment.objects.count(), LedgerEntry.objects.count(), files


def check_served(client, job_id, *, api=None) -> None:
    """An accepted image is served back as the image type it is, never sniffed as a page."""
    (attachment,) = Attachment.objects.filter(job_id=job_id, kind=AttachmentKind.INPUT)
    assert attachment.content_type in ("image/png", "image/jpeg", "image/webp")
    responses = [client.get(reverse("videos:job_file", args=[job_id, attachment.pk]))]
    if api is not None:
        responses.append(api.get(f"/videos/{job_id}/files/{attachment.pk}"))
    storage = attachment.file.storage
    for response in responses:
        if response.status_code == 302 and getattr(storage, "querystring_auth", False):
            # The page on S3: a signed link to the private bucket, which answers with the
            # type stored with the object.
            assert "Signature" in response["Location"]
            stored_type = storage.bucket.Object(attachment.file.name).content_type
            assert stored_type == attachment.content_type
            continue
        assert response.status_code == 200
        assert response["Content-Type"] == attachment.content_type
        assert response["X-Content-Type-Options"] == "nosniff"
        b"".join(response.streaming_content)


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    # Made once per module: the big ones take a moment to encode.
    return {case.name: case.make() for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_it_takes_or_refuses_an_image_through_the_api(
    case, images, api, key, diving, enqueued, owner_client
):
    before = stored()
    response = api.post(
        "/videos",
        {"template_id": DIVING, "media_inputs": [{"value": data_url(images[case.name])}]},
    )
    assert response.status_code < 500
    if case.outcome == "refuse":
        assert response.status_code == 422, (case.name, response.content[:500])
        body = response.json()
        assert body["field"] == "media_inputs[0]" and body["code"], body
        assert body["detail"].startswith("media_inputs[0]: "), body
        assert stored() == before
    else:
        assert response.status_code == 201, (case.name, response.content[:500])
        check_served(owner_client, response.json()["id"], api=api)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_it_takes_or_refuses_an_image_through_the_form(
    case, images, owner_client, key, diving, enqueued
):
    before = stored()
    response = owner_client.post(
        reverse("videos:job_new", args=[diving.pk]),
        {"media_0": SimpleUploadedFile(case.filename, images[case.name])},
    )
    assert response.status_code < 500
    if case.outcome == "refuse":
        # The form again, the reason by the image's field.
        assert response.status_code == 200, case.name
        assert "media_0" in response.context["form"].errors, response.context["form"].errors
        assert stored() == before
    else:
        assert response.status_code == 302, (case.name, response.context["form"].errors)
        job_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
        check_served(owner_client, job_id)


def test_it_documents_every_case():
    # The table says, for each file, what happens and why (the README quotes it).
    assert len({c.name for c in CASES}) == len(CASES) >= 20
    assert all(c.outcome in ("accept", "refuse") and c.why for c in CASES)


def test_it_refuses_an_image_just_over_the_limit_by_its_size(api, key, diving, enqueued):
    """A data URL just over 20 MB is a 28 MB JSON body, under DATA_UPLOAD_MAX_MEMORY_SIZE: it
    is refused by the image's size rule, naming the field. (What the refusal costs is not
    timed here: a per-character check of text fields took ~5 s on such a body; they are
    checked by one regular expression now, portal/api/types.py.)"""
    body = {
        "template_id": DIVING,
        "media_inputs": [{"value": data_url(png_padded_to(20 * 1024 * 1024 + 10))}],
    }
    response = api.post("/videos", body)
    assert response.status_code == 422
    assert response.json()["field"] == "media_inputs[0]"
    assert "MB" in response.json()["detail"], response.json()
