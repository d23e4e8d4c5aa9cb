"""videos.media: what FFmpeg (PyAV) reads from a stored video, the poster frame, the loop."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import pytest
from PIL import Image

from tests.conftest import make_image
from tests.fakes import MP4
from videos import media


def encode(codec: str, fmt: str, *, size=(96, 64), frames=20, rate=10, audio=False) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=8000) if audio else None
        for i in range(frames):
            picture = Image.new("RGB", size, (i * 12 % 255, 80, 160))
            frame = av.VideoFrame.from_image(picture)
            frame.pts, frame.time_base = i, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if sound is not None:
            for packet in sound.encode(None):
                container.mux(packet)
    return out.getvalue()


def test_it_reads_the_facts_of_the_sandboxs_mp4():
    facts, poster = media.inspect(io.BytesIO(MP4))
    assert facts == media.VideoFacts(duration_s=3.0, width=320, height=240, codec="h264")
    with Image.open(io.BytesIO(poster.data)) as image:
        assert (image.format, image.size) == ("WEBP", (320, 240))
    assert (poster.width, poster.height, poster.content_type) == (320, 240, "image/webp")


def test_it_reads_other_containers_and_codecs_too():
    """Not only MP4/H.264: a WebM with VP9 (the old box parser knew one MP4 box)."""
    facts, _poster = media.inspect(io.BytesIO(encode("libvpx-vp9", "webm")))
    assert (facts.width, facts.height, facts.codec) == (96, 64, "vp9")
    assert facts.duration_s == pytest.approx(2.0, abs=0.15)


def test_it_takes_the_poster_about_a_second_in_not_the_first_frame():
    # Frame i is coloured i*12: the first frame is (0, 80, 160); at 1 s (frame 10) red is 120.
    _facts, poster = media.inspect(io.BytesIO(encode("libx264", "mp4", frames=60)))
    with Image.open(io.BytesIO(poster.data)) as image:
        red = image.convert("RGB").getpixel((48, 32))[0]
    assert 100 < red < 140


def test_it_scales_a_wide_video_poster_down_to_640_px():
    _facts, poster = media.inspect(io.BytesIO(encode("libx264", "mp4", size=(1280, 720), frames=3)))
    assert (poster.width, poster.height) == (640, 360)


@pytest.mark.parametrize(
    "data",
    [b"", b"not a video at all" * 30, MP4[:600], make_image()],
    ids=["empty", "text", "cut-index", "a-png"],
)
def test_it_refuses_what_does_not_decode_as_a_video(data):
    with pytest.raises(media.NotAVideo, match="does not decode"):
        media.inspect(io.BytesIO(data))


def test_it_makes_a_short_small_silent_loop_of_a_clip():
    clip = encode("libx264", "mp4", size=(1280, 720), frames=80, rate=10, audio=True)
    loop = media.make_loop(io.BytesIO(clip))
    assert len(loop) < len(clip)
    with av.open(io.BytesIO(loop)) as container:
        assert [s.type for s in container.streams] == ["video"]
        video = container.streams.video[0]
        assert (video.width, video.height) == (480, 270)
        assert container.duration / av.time_base <= media.LOOP_SECONDS + 0.1
    # The index first, so the browser starts playing before the file is in.
    assert loop.index(b"moov") < loop.index(b"mdat")


@pytest.mark.parametrize("data", [b"\x00" * 2048, make_image()], ids=["zeros", "a-png"])
def test_it_refuses_a_clip_that_does_not_decode(data):
    with pytest.raises(media.NotAVideo):
        media.make_loop(io.BytesIO(data))


def test_it_turns_a_cover_into_a_webp_poster_and_refuses_what_is_no_image():
    poster = media.poster_from_image(io.BytesIO(make_image(1600, 900, "JPEG")))
    assert (poster.width, poster.height) == (640, 360)
    with pytest.raises(media.NotAnImage):
        media.poster_from_image(io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"))


@pytest.mark.parametrize("as_path", [True, False], ids=["path", "file"])
def test_it_never_follows_a_playlist_disguised_as_a_video(tmp_path, as_path):
    """An HLS playlist stored as result.mp4: refused, and nothing fetched (a guard should a
    future FFmpeg's defaults follow playlists: media.OPEN_OPTIONS)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    playlist = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
        f"#EXTINF:1,\nhttp://127.0.0.1:{port}/internal.ts\n#EXT-X-ENDLIST\n"
    ).encode()
    path = tmp_path / "result-x.mp4"
    path.write_bytes(playlist)
    try:
        with pytest.raises(media.NotAVideo):
            media.inspect(str(path) if as_path else io.BytesIO(playlist))
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody came
    finally:
        listener.close()
