"""A MiniMax stand-in for one figure: every task has succeeded, its video is one big file.

The sandbox's video is a small MP4; storing a 200 MB result needs a 200 MB one. This serves
the sandbox's own MP4 followed by a `free` box of padding (an MP4 reader skips it, so the file
still decodes), and notes when each download began and ended. Standard library only; run in a
thread of the harness's process.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parent.parent / "sandbox" / "assets" / "sample.mp4"
CHUNK = 1 << 20


def make_file(path: Path, size: int) -> Path:
    """The sample MP4 padded with one `free` box up to `size` bytes."""
    head = SAMPLE.read_bytes()
    pad = max(size - len(head), 16)
    with open(path, "wb") as f:
        f.write(head)
        f.write(pad.to_bytes(4, "big") + b"free")
        zeros = bytes(CHUNK)
        left = pad - 8
        while left > 0:
            f.write(zeros[: min(CHUNK, left)])
            left -= CHUNK
    return path


class BigUpstream:
    def __init__(self, file: Path) -> None:
        self.file = file
        self.downloads: list[dict[str, float]] = []
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # a create, or anything else: a task that exists
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                ok = {"status_code": 0, "status_msg": "success"}
                self._json({"task_id": "big-0", "base_resp": ok})

            def do_GET(self) -> None:
                if self.path.startswith("/big.mp4"):
                    return self._file()
                task = self.path.split("task_id=", 1)[-1].split("&", 1)[0] or "big-0"
                self._json(
                    {
                        "task_id": task,
                        "status": "Success",
                        "video_url": f"http://127.0.0.1:{upstream.port}/big.mp4",
                        "base_resp": {"status_code": 0, "status_msg": "success"},
                    }
                )

            def _file(self) -> None:
                began = time.time()
                size = upstream.file.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                with open(upstream.file, "rb") as f:
                    while chunk := f.read(CHUNK):
                        self.wfile.write(chunk)
                with upstream.lock:
                    upstream.downloads.append({"began": began, "ended": time.time(), "bytes": size})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> BigUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
