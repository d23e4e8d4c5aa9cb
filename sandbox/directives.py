"""Behaviour switches hidden in the API key (see the ``sandbox.server`` docstring)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ERR = re.compile(r"err(\d+)")
_FLAKY = re.compile(r"flaky(\d+)")
_GEN = re.compile(r"gen(\d+(?:\.\d+)?)")
_FLAGS = (
    "invalid",
    "fail",
    "fileid",
    "lower",
    "slowquery",
    "slowcreate",
    "slowfile",
    "nochaos",
    "badvideo",
)


@dataclass(frozen=True)
class Directives:
    invalid: bool = False
    err: int | None = None
    flaky: int | None = None
    fail: bool = False
    fileid: bool = False
    lower: bool = False
    gen: float | None = None
    slowquery: bool = False
    slowcreate: bool = False
    slowfile: bool = False
    nochaos: bool = False
    badvideo: bool = False


def parse_directives(key: str) -> Directives:
    """Read the dash-separated words after ``sk-``; unknown words are ordinary key material."""
    found: dict[str, object] = {}
    for word in key.removeprefix("sk-").split("-"):
        if word in _FLAGS:
            found[word] = True
        elif m := _ERR.fullmatch(word):
            # err0 would mean "succeed", which is what a key without err does anyway.
            if int(m.group(1)):
                found["err"] = int(m.group(1))
        elif m := _FLAKY.fullmatch(word):
            if int(m.group(1)):
                found["flaky"] = int(m.group(1))
        elif m := _GEN.fullmatch(word):
            found["gen"] = float(m.group(1))
    return Directives(**found)  # type: ignore[arg-type]
