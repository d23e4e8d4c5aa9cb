"""HMAC-signed, expiring file URLs, standing in for the real upstream's signed CDN links."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


class UrlSigner:
    def __init__(self, secret: bytes | None = None) -> None:
        # A fresh secret per process: links from an earlier sandbox run stop working, as they
        # would once the real upstream drops a file.
        self._secret = secret or secrets.token_bytes(32)

    def signature(self, name: str, expires: int) -> str:
        message = f"{name}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, public_url: str, name: str, expires: int) -> str:
        sig = self.signature(name, expires)
        return f"{public_url}/_sandbox/files/{name}.mp4?expires={expires}&sig={sig}"

    def verify(self, name: str, expires: str, sig: str, now: float | None = None) -> bool:
        """True when the signature matches and the link has not expired yet."""
        if not NAME.fullmatch(name) or not expires.isdigit():
            return False
        if not hmac.compare_digest(self.signature(name, int(expires)), sig):
            return False
        return int(expires) >= (time.time() if now is None else now)
