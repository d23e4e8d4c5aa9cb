"""An input image given as a URL, fetched for providers that need the image itself.

The URL is the caller's choice, so it is fetched like a webhook is sent (portal.safe_http):
public addresses only, no redirects, explicit timeouts, a size cap read as it streams. The
bytes then go through the same checks as an upload (videos.inputs.check_media).
"""

from __future__ import annotations

import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from portal import netguard
from portal.safe_http import new_session
from videos.errors import JobInputError
from videos.images import MAX_DATA_URL_BYTES

TIMEOUT = (5, 15)
CHUNK = 64 * 1024


def fetch(field: str, url: str) -> SimpleUploadedFile:
    try:
        netguard.check_url(url)
    except netguard.UnsafeUrlError as exc:
        raise JobInputError(field, f"the image URL cannot be fetched: {exc}") from None
    session = new_session()
    try:
        try:
            response = session.get(url, stream=True, timeout=TIMEOUT, allow_redirects=False)
        except netguard.UnsafeUrlError as exc:
            raise JobInputError(field, f"the image URL cannot be fetched: {exc}") from None
        except requests.RequestException:
            raise JobInputError(field, "the image URL could not be fetched") from None
        try:
            if response.status_code != 200:
                raise JobInputError(
                    field, f"the image URL answered HTTP {response.status_code}, not an image"
                )
            data = bytearray()
            for chunk in response.iter_content(CHUNK):
                data += chunk
                if len(data) > MAX_DATA_URL_BYTES:
                    raise JobInputError(field, "the image must be under 20 MB")
        except requests.RequestException:
            raise JobInputError(field, "the image download broke off") from None
        finally:
            response.close()
    finally:
        session.close()
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    return SimpleUploadedFile(f"input-{field}", bytes(data), content_type=content_type)
