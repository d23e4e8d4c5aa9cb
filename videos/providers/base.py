"""The one interface every upstream implements, and the neutral words it speaks.

A provider module (videos/providers/<slug>.py) turns these into its upstream's HTTP calls and
back; services, tasks, fetch and the callback view know only this file. Everything a provider
needs comes in the arguments (credentials, the task id, what it asked to keep in
`upstream_data`), so a provider holds no state between calls and never touches a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any, Protocol


class State(StrEnum):
    """Where the upstream says a task is, whatever its own words for it."""

    PENDING = "pending"  # accepted, not started yet (queued upstream)
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # the video can be fetched
    FAILED = "failed"


@dataclass(frozen=True)
class Credentials:
    """What a call needs from a vault key. The secret never shows in a repr or a traceback."""

    secret: str = field(repr=False)
    region: str = "global"
    account: str = ""  # useapi: the MiniMax account configured there ("" = any)
    max_jobs: int | None = None  # useapi: `maxJobs`


@dataclass(frozen=True)
class Region:
    slug: str
    label: str


@dataclass(frozen=True)
class ImageRules:
    """What the upstream accepts as an input image; checked by content before anything is sent."""

    formats: Mapping[str, str]  # Pillow format name -> content type, e.g. {"PNG": "image/png"}
    max_bytes: int
    min_short_side: int  # the shorter side must be MORE than this many pixels
    min_aspect: Fraction
    max_aspect: Fraction
    max_pixels: int = 40_000_000  # refused before decoding: no decompression bombs

    @property
    def format_names(self) -> str:
        names = [_FORMAT_NAMES.get(name, name) for name in self.formats]
        return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]

    @property
    def summary(self) -> str:
        """One line for help texts: formats, size, sides, aspect ratio."""
        return (
            f"{self.format_names}; under {self.max_bytes // (1024 * 1024)} MB; shorter side over "
            f"{self.min_short_side} px; aspect ratio between {_ratio(self.min_aspect)} and "
            f"{_ratio(self.max_aspect)}."
        )


_FORMAT_NAMES = {"WEBP": "WebP"}


def _ratio(value: Fraction) -> str:
    return f"{value.numerator}:{value.denominator}"


@dataclass(frozen=True)
class KeyLimits:
    """What one key may carry at the upstream, when its owner did not say."""

    max_concurrent: int  # tasks at once
    rpm: int | None  # creates per minute (None: no published limit)


@dataclass(frozen=True)
class InputRules:
    image: ImageRules
    max_text: int
    # True: a public http(s) image URL can be handed to the upstream as is. False: the upstream
    # needs the image itself, so the portal fetches (and checks) it when the job is made.
    media_urls: bool


@dataclass(frozen=True)
class MediaInput:
    """One input image of a job, as the submit step offers it to the provider."""

    position: int
    content_type: str
    # A URL the upstream can fetch: the caller's own, or our signed link when PUBLIC_BASE_URL
    # makes us reachable; "" when there is none.
    url: str
    # The image's bytes (stored inputs); None for a caller's URL passed through.
    read: Callable[[], bytes] | None
    # What an earlier attempt's upload answered (e.g. useapi {fileID, ossPath}): reuse it.
    upload_ref: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitRequest:
    template_id: str
    text_inputs: Sequence[str]
    media: Sequence[MediaInput]
    # Where the upstream may push news about this task; "" when it cannot reach us.
    callback_url: str
    # Our job id: sent where the upstream echoes a reference back (useapi `replyRef`).
    reference: str
    # Called as soon as an input is uploaded (position, reference), so that a retry after a
    # crash reuses the upload instead of making another.
    on_upload: Callable[[int, Mapping[str, str]], None] = lambda position, ref: None


@dataclass(frozen=True)
class Artifact:
    """Something the upstream shows on the way: an image it generated, the video's poster."""

    url: str
    kind: str  # "image" | "poster"
    name: str = ""


@dataclass(frozen=True)
class Progress:
    """What the upstream says about a task now."""

    state: State
    raw_status: str  # the upstream's own word or code, as it said it (shown, logged)
    percent: int | None = None  # when the upstream gives one
    message: str = ""  # for a failed task: why, in words for the user
    error_code: str = ""  # for a failed task: e.g. "moderated", "upstream_failed"
    # Facts to keep for later calls (result URLs, file ids...): merged into job.upstream_data.
    data: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Sequence[Artifact] = ()


@dataclass(frozen=True)
class Submitted:
    """A task the upstream accepted (or one found again after an ambiguous create)."""

    task_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    notes: Sequence[str] = ()  # what the upstream said while accepting it (stream text)
    artifacts: Sequence[Artifact] = ()


@dataclass(frozen=True)
class CallbackHint:
    """A push from the upstream, reduced to what the portal may act on: a reason to re-query
    (never the outcome itself: pushes are unsigned)."""

    task_id: str = ""
    raw_status: str = ""
    reference: str = ""
    final: bool = False  # the push says the task ended (success or failure)


@dataclass(frozen=True)
class CallbackReply:
    body: Mapping[str, Any]  # the JSON to answer with
    hint: CallbackHint | None  # None: nothing to follow up (e.g. MiniMax's challenge)


@dataclass
class ResultStream:
    """An open download: iterate `chunks`, then `close()` (also on error)."""

    content_type: str
    length: int | None
    chunks: Iterator[bytes]
    close: Callable[[], None]


@dataclass(frozen=True)
class CatalogueEntry:
    """A template as the upstream lists it (`sync_templates`); None where it does not say."""

    template_id: str
    name: str
    description: str = ""
    cover_url: str = ""
    preview_url: str = ""
    media_inputs: int | None = None
    text_inputs: int | None = None
    text_label: str = ""
    credits: float | None = None  # what the upstream charges per video, in its own credits
    # The price of a video for the team, in cents: from `credits` where the listing gives
    # them, else the provider's staff-set default (the provider fills it in).
    price_cents: int | None = None


class Provider(Protocol):
    """An upstream. Every method may raise the errors of videos.providers.errors, only those."""

    # Read-only facts about the upstream (class attributes or properties in a module).
    @property
    def slug(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def regions(self) -> Sequence[Region]: ...

    @property
    def rules(self) -> InputRules: ...

    @property
    def cancels_running(self) -> bool:
        """True when a task can still be canceled upstream after it was accepted."""
        ...

    @property
    def lists_catalogue(self) -> bool:
        """True when `catalogue()` lists templates (synced into the portal's catalogue)."""
        ...

    def check_credentials(self, credentials: Credentials) -> None:
        """Refuse a secret (or its options) of the wrong shape: raises portal.errors.FieldError
        naming `secret`, `account` or `max_jobs`. No network call."""
        ...

    def key_limits(self, *, max_jobs: int | None) -> KeyLimits:
        """A key's default capacity (`max_jobs`: the key's own cap at the upstream, if any)."""
        ...

    def check_key(self, credentials: Credentials) -> None:
        """A harmless authenticated call; raises CredentialsRejected if the key is refused."""
        ...

    def submit(self, credentials: Credentials, request: SubmitRequest) -> Submitted: ...

    def status(self, credentials: Credentials, task_id: str, data: Mapping[str, Any]) -> Progress:
        """`data` is the job's upstream_data (what earlier answers asked to keep)."""
        ...

    def open_result(
        self, credentials: Credentials, task_id: str, data: Mapping[str, Any]
    ) -> ResultStream:
        """The finished video, streaming; TransientError when its link has expired (the
        caller re-queries for a fresh one)."""
        ...

    def open_artifact(self, url: str) -> ResultStream:
        """An intermediate image, poster or catalogue cover the upstream pointed at."""
        ...

    def read_callback(self, payload: Mapping[str, Any]) -> CallbackReply:
        """What to answer a push with, and what it hints at."""
        ...

    def cancel(self, credentials: Credentials, task_id: str) -> None: ...

    def find_lost(
        self, credentials: Credentials, *, reference: str, template_id: str, since: datetime
    ) -> Submitted | None:
        """After an ambiguous create: the task that create made, if the upstream shows it."""
        ...

    def catalogue(self, credentials: Credentials) -> Iterator[CatalogueEntry]:
        """Every template the upstream lists for this key (empty when it lists none)."""
        ...
