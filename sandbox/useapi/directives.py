"""Behaviour switches hidden in a useapi token's ``<string>`` part (``user:<number>-<string>``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(r"user:(\d+)-(\S+)")
_ERR = re.compile(r"err(\d+)")
_FLAKY = re.compile(r"flaky(\d+)")
_GEN = re.compile(r"gen(\d+(?:\.\d+)?)")
_FLAGS = (
    "invalid",
    "fail",
    "moderated",
    "removed",
    "free",
    "cut",
    "cutafter",
    "novideoid",
    "poll596",
    "busy",
    "slowupload",
    "nochaos",
)


@dataclass(frozen=True)
class Directives:
    invalid: bool = False
    err: int | None = None
    flaky: int | None = None
    gen: float | None = None
    fail: bool = False
    moderated: bool = False
    removed: bool = False
    free: bool = False
    cut: bool = False
    cutafter: bool = False
    novideoid: bool = False
    poll596: bool = False
    busy: bool = False
    slowupload: bool = False
    nochaos: bool = False


def _http_error(digits: str) -> int | None:
    # Only error statuses make sense (err200 would mean "succeed", as a plain token does).
    code = int(digits)
    return code if 400 <= code <= 599 else None


def parse_directives(secret: str) -> Directives:
    """Read the dash-separated words of the token's ``<string>``; other words are key material."""
    found: dict[str, object] = {}
    for word in secret.split("-"):
        if word in _FLAGS:
            found[word] = True
        elif m := _ERR.fullmatch(word):
            if code := _http_error(m.group(1)):
                found["err"] = code
        elif m := _FLAKY.fullmatch(word):
            if code := _http_error(m.group(1)):
                found["flaky"] = code
        elif m := _GEN.fullmatch(word):
            found["gen"] = float(m.group(1))
    return Directives(**found)  # type: ignore[arg-type]
