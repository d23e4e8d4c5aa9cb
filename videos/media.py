"""What a stored video is, read by PyAV (FFmpeg's libraries): its duration, size and codec,
proof that it decodes, a poster frame, and the short looping preview of a template.

FFmpeg reads every container and codec an upstream may send (MP4 with its index at the
start or at the end, fragmented MP4, WebM, ...), where the hand-written MP4 box parser this
replaces knew one box of one container and could not tell a playable file from a header.
"""

from __future__ import annotations

import io
import logging
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from PIL import Image

logger = logging.getLogger("videos.media")

# The poster is shown in cards, lists and as the player's poster: 640 px wide is sharp on a
# phone and a laptop card, and a WebP of it is ~10-40 KB.
POSTER_MAX_WIDTH = 640
POSTER_QUALITY = 80
# Where the poster frame is taken: a second in (the first frame is often black or a fade),
# or a quarter of a shorter video. Frames are decoded from the start up to it, no seeking:
# on S3 every seek is a ranged GET, and a second of video is a few dozen frames.
POSTER_AT_SECONDS = 1.0
# A video whose first this-many frames all fail to decode is broken, whatever its header says.
MAX_FRAMES_TO_POSTER = 120

# The template preview loop: short, small, muted, cheap to autoplay in a gallery of cards.
LOOP_SECONDS = 4.0
LOOP_MAX_WIDTH = 480
LOOP_FPS = 15
LOOP_CRF = "30"


# What FFmpeg may do with a file an upstream sent: demux MP4/MOV and Matroska/WebM only, and
# open no other file or URL. Playlist demuxers (HLS, concat) follow the URLs a file names: a
# playlist disguised as a video could make the worker fetch internal addresses. FFmpeg's own
# defaults refused the ones we tried; this keeps every demuxer but the video containers out
# whatever a future FFmpeg's defaults are. It also stops image demuxers passing a PNG off as
# a one-frame video.
OPEN_OPTIONS = {
    "format_whitelist": "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm",
    "protocol_whitelist": "file",
}


def _open(source: str | BinaryIO):
    return av.open(source, mode="r", options=dict(OPEN_OPTIONS))


class NotAVideo(Exception):
    """The file does not decode as a video (a fetch failure, retried like a broken download)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class VideoFacts:
    duration_s: float | None
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class Poster:
    data: bytes
    width: int
    height: int
    content_type: str = "image/webp"
    ext: str = "webp"


def inspect(source: str | BinaryIO) -> tuple[VideoFacts, Poster]:
    """The video's facts and its poster frame; NotAVideo when it does not decode.

    `source` is a local path or a seekable binary file (e.g. ranged reads of an S3 object):
    FFmpeg reads the container's index and the first second of frames, not the whole file.
    """
    try:
        with _open(source) as container:
            if not container.streams.video:
                raise NotAVideo("the video does not decode: the file holds no video stream")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            duration = _duration(container, stream)
            frame = _poster_frame(container, stream, duration)
            width, height = frame.width, frame.height
            # Scaled by FFmpeg straight from the decoded frame: a 4K frame never becomes a
            # full-size RGB image in the worker's memory.
            out_w, out_h = _poster_size(frame.width, frame.height)
            image = frame.reformat(
                width=out_w, height=out_h, format="rgb24", interpolation="AREA"
            ).to_image()
    except NotAVideo:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        # What FFmpeg says stays in the log; the job's timeline gets a plain sentence.
        logger.info("not a video: %s", exc)
        raise NotAVideo("the video does not decode") from None
    facts = VideoFacts(duration_s=duration, width=width, height=height, codec=codec)
    return facts, _poster(image)


def _duration(container, stream) -> float | None:
    if container.duration:  # in AV_TIME_BASE units (microseconds)
        return round(container.duration / av.time_base, 3)
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base), 3)
    return None


def _poster_frame(container, stream, duration: float | None):
    target = POSTER_AT_SECONDS if not duration else min(POSTER_AT_SECONDS, duration / 4)
    chosen = None
    for count, frame in enumerate(container.decode(stream), start=1):
        chosen = frame
        if (frame.time or 0) >= target or count >= MAX_FRAMES_TO_POSTER:
            break
    if chosen is None:
        raise NotAVideo("the video does not decode: no frame of it does")
    return chosen


class NotAnImage(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Raster formats only (an SVG would be script served from our own origin).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")


def poster_from_image(source: BinaryIO) -> Poster:
    """A template cover (uploaded or from the catalogue) as a poster: decoded by Pillow,
    its first frame as a WebP at most POSTER_MAX_WIDTH wide; NotAnImage otherwise."""
    try:
        with Image.open(source) as image:
            if image.format not in IMAGE_FORMATS:
                raise NotAnImage(
                    f"the image is {image.format or 'of an unknown kind'}, not PNG/JPEG/WebP/GIF"
                )
            image.load()  # decodes (Pillow refuses decompression bombs here)
            return _poster(image)
    except NotAnImage:
        raise
    except Exception:
        raise NotAnImage("the file is not a PNG, JPEG, WebP or GIF image") from None


def _poster_size(width: int, height: int) -> tuple[int, int]:
    if width <= POSTER_MAX_WIDTH:
        return width, height
    return POSTER_MAX_WIDTH, max(1, round(height * POSTER_MAX_WIDTH / width))


def _poster(image: Image.Image) -> Poster:
    image = image.convert("RGB")
    if image.width > POSTER_MAX_WIDTH:
        height = max(1, round(image.height * POSTER_MAX_WIDTH / image.width))
        image = image.resize((POSTER_MAX_WIDTH, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=POSTER_QUALITY, method=4)
    return Poster(data=out.getvalue(), width=image.width, height=image.height)


def make_loop(source: str | BinaryIO) -> bytes:
    """A template's preview loop: the first LOOP_SECONDS of the clip, at most LOOP_MAX_WIDTH
    wide, LOOP_FPS, no sound, H.264 in an MP4 with its index first (plays while loading).

    A catalogue clip is the whole sample video (megabytes, with sound); a gallery of cards
    autoplaying those would download them all. NotAVideo when the clip does not decode."""
    # faststart rewrites the file once written, by its name: a temporary file, not BytesIO.
    with tempfile.NamedTemporaryFile(suffix=".mp4") as out:
        _encode_loop(source, out.name)
        return Path(out.name).read_bytes()


def _encode_loop(source: str | BinaryIO, target: str) -> None:
    try:
        with _open(source) as src:
            if not src.streams.video:
                raise NotAVideo("the clip does not decode: the file holds no video stream")
            in_stream = src.streams.video[0]
            with av.open(target, mode="w", format="mp4", options={"movflags": "+faststart"}) as dst:
                encoder = dst.add_stream("libx264", rate=LOOP_FPS)
                encoder.pix_fmt = "yuv420p"
                encoder.options = {"crf": LOOP_CRF, "preset": "veryfast"}
                frames = 0
                next_time = 0.0
                for frame in src.decode(in_stream):
                    time = frame.time or 0.0
                    if time >= LOOP_SECONDS:
                        break
                    if time + 1e-6 < next_time:
                        continue  # drop frames down to LOOP_FPS
                    next_time += 1 / LOOP_FPS
                    if frames == 0:
                        encoder.width, encoder.height = _loop_size(frame.width, frame.height)
                    scaled = frame.reformat(
                        width=encoder.width, height=encoder.height, format="yuv420p"
                    )
                    scaled.pts = frames
                    scaled.time_base = Fraction(1, LOOP_FPS)
                    for packet in encoder.encode(scaled):
                        dst.mux(packet)
                    frames += 1
                if frames == 0:
                    raise NotAVideo("the clip does not decode: no frame of it does")
                for packet in encoder.encode(None):
                    dst.mux(packet)
    except NotAVideo:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        logger.info("clip not made into a loop: %r", exc)
        raise NotAVideo("the clip does not decode") from None


def is_loop(source: str | BinaryIO) -> bool:
    """Whether a stored preview already is a loop as make_loop makes them (short, small,
    silent): a clip stored before loops were made is not."""
    try:
        with _open(source) as container:
            if container.streams.audio or not container.streams.video:
                return False
            duration = (container.duration or 0) / av.time_base
            video = container.streams.video[0]
            return 0 < duration <= LOOP_SECONDS + 0.5 and video.width <= LOOP_MAX_WIDTH
    except (av.FFmpegError, ValueError, OSError, EOFError):
        return False


def _loop_size(width: int, height: int) -> tuple[int, int]:
    if width > LOOP_MAX_WIDTH:
        height = round(height * LOOP_MAX_WIDTH / width)
        width = LOOP_MAX_WIDTH
    # H.264 with 4:2:0 wants even sides.
    return max(2, width - width % 2), max(2, height - height % 2)
