"""MiniMax ``base_resp`` status codes and the messages the sandbox answers with (FACTS.md)."""

from __future__ import annotations

from typing import Any

SUCCESS = 0
UNKNOWN_ERROR = 1000
AUTH_FAILED = 1004
INVALID_PARAMS = 2013
INVALID_API_KEY = 2049

MESSAGES: dict[int, str] = {
    0: "success",
    1000: "unknown error",
    1001: "request timeout",
    1002: "rate limit exceeded, please try again later",
    1004: "authentication failed",
    1008: "insufficient balance",
    1024: "internal error",
    1026: "input sensitive",
    1027: "output sensitive",
    1033: "system error",
    1039: "token limit",
    1041: "connection limit",
    1042: "invisible characters in input",
    2013: "invalid params",
    2038: "real-name verification required",
    2045: "rate growth limit, please try again later",
    2049: "invalid api key",
    2056: "usage limit exceeded, please wait for the next window",
}


def base_resp(code: int, msg: str | None = None) -> dict[str, Any]:
    """Build a ``base_resp`` object; ``msg`` overrides the stock message for ``code``."""
    return {"status_code": code, "status_msg": msg or MESSAGES.get(code, f"error {code}")}
