"""The upstream's image rules (videos.images), checked before anything is sent."""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.conftest import make_image
from videos import images, inputs
from videos.errors import JobInputError
from videos.images import ImageRuleError, check_image, decode_data_url
from videos.providers import provider_for
from videos.services import MediaInput

# MiniMax's rules (upstream FACTS, "Media input rules"): JPEG/PNG/WebP, < 20 MB, ...
RULES = provider_for("minimax").rules

FIELD = "media_inputs[0]"
MB = 1024 * 1024


def check(data: bytes, size: int | None = None, field: str = FIELD) -> images.CheckedImage:
    return check_image(field, io.BytesIO(data), len(data) if size is None else size, RULES.image)


def refused(data: bytes, size: int | None = None, field: str = FIELD) -> ImageRuleError:
    with pytest.raises(ImageRuleError) as excinfo:
        check(data, size, field)
    error = excinfo.value
    # Every error names the field, in the attribute and in its text.
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    return error


def noisy_image(width: int, height: int, fmt: str) -> bytes:
    rng = random.Random(7)
    img = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size in its IHDR and carries (almost) no pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


# --- formats, by content ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")],
)
def test_it_accepts_png_jpeg_and_webp(fmt, content_type):
    data = make_image(640, 480, fmt)
    stream = io.BytesIO(data)
    checked = check_image(FIELD, stream, len(data), RULES.image)
    assert checked == images.CheckedImage(
        content_type=content_type, width=640, height=480, bytes=len(data)
    )
    assert stream.tell() == 0  # ready to be stored


def test_it_decides_the_type_by_content_not_by_file_name(png):
    upload = SimpleUploadedFile("holiday.jpg", png, content_type="image/jpeg")
    checked = inputs.check_media(FIELD, MediaInput(upload=upload), RULES)
    assert checked.content_type == "image/png"


def test_it_refuses_a_gif_named_png():
    gif = make_image(640, 480, "GIF")
    upload = SimpleUploadedFile("photo.png", gif, content_type="image/png")
    with pytest.raises(JobInputError) as excinfo:
        inputs.check_media(FIELD, MediaInput(upload=upload), RULES)
    assert excinfo.value.field == FIELD
    assert "GIF" in excinfo.value.message
    assert "JPEG, PNG or WebP" in excinfo.value.message


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_it_refuses_other_image_formats(fmt):
    error = refused(make_image(640, 480, fmt))
    assert "use JPEG, PNG or WebP" in error.message


def test_it_refuses_a_text_file_named_png():
    text = b"hello, I am not a picture at all\n" * 20
    upload = SimpleUploadedFile("photo.png", text, content_type="image/png")
    with pytest.raises(JobInputError) as excinfo:
        inputs.check_media(FIELD, MediaInput(upload=upload), RULES)
    assert excinfo.value.field == FIELD
    assert "not a readable JPEG, PNG or WebP image" in excinfo.value.message


def test_it_refuses_an_empty_file():
    error = refused(b"", size=0)
    assert "empty" in error.message


# --- size -------------------------------------------------------------------------------


def test_it_refuses_20_mb_exactly(png):
    error = refused(png, size=20 * MB)
    assert "20.0 MB" in error.message
    assert "under 20 MB" in error.message


def test_it_refuses_more_than_20_mb(png):
    error = refused(png, size=25 * MB)
    assert "under 20 MB" in error.message


def test_it_accepts_just_under_20_mb(png):
    assert check(png, size=20 * MB - 1).bytes == 20 * MB - 1


# --- dimensions -------------------------------------------------------------------------


def test_it_refuses_a_shorter_side_of_exactly_300_px():
    error = refused(make_image(300, 400))
    assert "shorter side is 300 px" in error.message
    assert "more than 300 px" in error.message


def test_it_refuses_a_shorter_height_of_300_px():
    error = refused(make_image(400, 300))
    assert "shorter side is 300 px" in error.message


def test_it_accepts_a_shorter_side_of_301_px():
    checked = check(make_image(301, 400))
    assert (checked.width, checked.height) == (301, 400)


@pytest.mark.parametrize(("width", "height"), [(320, 800), (800, 320), (400, 1000), (1000, 400)])
def test_it_accepts_the_exact_aspect_limits(width, height):
    checked = check(make_image(width, height))
    assert (checked.width, checked.height) == (width, height)


@pytest.mark.parametrize(("width", "height"), [(319, 800), (320, 801), (801, 320), (800, 319)])
def test_it_refuses_an_aspect_ratio_beyond_the_limits(width, height):
    error = refused(make_image(width, height))
    assert f"aspect ratio is {width}:{height}" in error.message
    assert "between 2:5 and 5:2" in error.message


# --- hostile and broken files -----------------------------------------------------------


def test_it_refuses_a_decompression_bomb_pillow_warns_about(monkeypatch):
    # 640x480 = 307,200 px: between the limit and twice it, Pillow only warns.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200_000)
    error = refused(make_image(640, 480))
    assert "too large to process safely" in error.message


def test_it_refuses_a_decompression_bomb_pillow_refuses(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    error = refused(make_image(640, 480))
    assert "too large to process safely" in error.message


def test_it_refuses_a_png_whose_header_claims_a_huge_size():
    # 9000x9000 = 81 Mpx: under Pillow's own limit, over the portal's.
    error = refused(png_header(9000, 9000))
    assert "too large to process safely" in error.message


def test_it_refuses_a_png_header_claiming_a_gigantic_size():
    error = refused(png_header(100_000, 100_000))
    assert "too large to process safely" in error.message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_it_refuses_a_truncated_file(fmt):
    data = noisy_image(640, 480, fmt)
    error = refused(data[: len(data) // 2])
    assert "not a readable JPEG, PNG or WebP image" in error.message


def test_it_refuses_a_corrupt_png():
    data = bytearray(make_image(640, 480))
    data[60:120] = b"\xff" * 60  # inside the pixel data
    error = refused(bytes(data))
    assert "not a readable" in error.message


def test_it_refuses_a_bare_png_signature():
    error = refused(b"\x89PNG\r\n\x1a\n")
    assert "not a readable" in error.message


# --- data URLs --------------------------------------------------------------------------


def data_url(data: bytes, declared: str = "image/png") -> str:
    return f"data:{declared};base64,{base64.b64encode(data).decode()}"


def test_it_decodes_a_data_url(png):
    raw, declared = decode_data_url(FIELD, data_url(png))
    assert raw == png
    assert declared == "image/png"


def test_it_checks_a_data_url_by_content_not_by_the_declared_type(png):
    raw, declared = decode_data_url(FIELD, data_url(png, "image/jpeg"))
    assert declared == "image/jpeg"
    assert check(raw).content_type == "image/png"


def test_it_refuses_a_gif_data_url_declared_as_png():
    raw, _ = decode_data_url(FIELD, data_url(make_image(640, 480, "GIF")))
    assert "GIF" in refused(raw).message


@pytest.mark.parametrize(
    "value",
    [
        "https-not-a-data-url",
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png,rawbytes",
        "data:image/png;base64",
    ],
)
def test_it_refuses_a_value_that_is_not_an_image_data_url(value):
    with pytest.raises(ImageRuleError) as excinfo:
        decode_data_url(FIELD, value)
    assert excinfo.value.field == FIELD
    assert str(excinfo.value).startswith(f"{FIELD}: ")
    assert "data:image/...;base64," in excinfo.value.message


def test_it_refuses_invalid_base64():
    with pytest.raises(ImageRuleError) as excinfo:
        decode_data_url(FIELD, "data:image/png;base64,not*base64!")
    assert excinfo.value.field == FIELD
    assert "base64" in excinfo.value.message


def test_it_refuses_a_data_url_too_large_to_be_under_20_mb(monkeypatch, png):
    monkeypatch.setattr(images, "MAX_DATA_URL_BYTES", 1000)
    with pytest.raises(ImageRuleError) as excinfo:
        decode_data_url(FIELD, data_url(png))
    assert excinfo.value.field == FIELD
    assert "under 20 MB" in excinfo.value.message


def test_it_names_the_field_it_was_given():
    error = refused(make_image(200, 200), field="media_inputs[3]")
    assert error.field == "media_inputs[3]"
    assert str(error).startswith("media_inputs[3]: the shorter side is 200 px")
