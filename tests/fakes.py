"""A scripted stand-in for the upstream's HTTP door (videos.providers.http.new_session)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import requests


class FakeResponse:
    def __init__(self, status_code=200, body=None, headers=None, content: bytes = b""):
        self.status_code = status_code
        self._body = body
        self.headers = {"Trace-Id": "trace-123", **(headers or {})}
        self.content = content if body is None else json.dumps(body).encode()
        self.closed = False

    def json(self):
        if self._body is None:
            raise ValueError("not json")
        return self._body

    def iter_content(self, chunk_size):
        for i in range(0, len(self.content), chunk_size):
            yield self.content[i : i + chunk_size]

    def close(self):
        self.closed = True


def ok(**fields) -> FakeResponse:
    return FakeResponse(body={**fields, "base_resp": {"status_code": 0, "status_msg": "success"}})


def code(status_code: int, msg: str = "") -> FakeResponse:
    return FakeResponse(body={"base_resp": {"status_code": status_code, "status_msg": msg}})


class FakeUpstream:
    """Answers by path from per-path queues (the last answer repeats); records every call."""

    def __init__(self):
        self.answers: dict[str, list] = {}
        self.calls: list[dict] = []

    def on(self, path: str, *answers) -> FakeUpstream:
        self.answers.setdefault(path, []).extend(answers)
        return self

    def calls_to(self, path: str) -> list[dict]:
        return [c for c in self.calls if c["path"] == path]

    def request(self, method, url, headers=None, timeout=None, **kwargs):
        path = urlparse(url).path
        self.calls.append(
            {
                "method": method,
                "path": path,
                "url": url,
                "headers": headers or {},
                "timeout": timeout,
                **kwargs,
            }
        )
        queue = self.answers.get(path)
        if not queue:
            raise AssertionError(f"unexpected upstream call {method} {path}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)


# A real, decodable MP4 (the sandbox upstream's, 3 s, 320x240 H.264): the fetch checks
# that a stored video decodes.
MP4 = (Path(__file__).resolve().parent.parent / "sandbox" / "assets" / "sample.mp4").read_bytes()

TIMEOUT = requests.Timeout
