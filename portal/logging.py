"""Log redaction: no secret reaches a log line, whatever logged it."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    # Upstream keys (sk-api-..., sk-cp-...) and any bearer credential.
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{4,}"), "sk-[redacted]"),
    (re.compile(r"(Bearer\s+)[^\s'\"]+", re.IGNORECASE), r"\1[redacted]"),
    # Portal personal access tokens.
    (re.compile(r"\bvap_[A-Za-z0-9_\-]{8,}"), "vap_[redacted]"),
    # Per-job callback tokens are capabilities: keep them out of logged paths.
    (re.compile(r"(/callbacks/[a-z]+/)[^/\s?'\"]+"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
