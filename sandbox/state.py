"""In-memory tasks behind one lock. A task's status is derived from the clock, not stored."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

PREPARING, PROCESSING, SUCCESS, FAIL = "Preparing", "Processing", "Success", "Fail"
# The first quarter of the generation time is spent "Preparing".
PREPARING_SHARE = 0.25


@dataclass
class Task:
    task_id: str
    owner_key: str
    template_id: str
    generation_seconds: float
    outcome: str  # SUCCESS or FAIL, decided at create time by the key's directives
    file_id: str | None  # only for keys with the ``fileid`` directive
    callback_url: str | None
    # The inputs given as http(s) URLs (never data URLs): who asked for the task, for tests.
    media_urls: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    created_monotonic: float = field(default_factory=time.monotonic)
    pushes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def processing_monotonic(self) -> float:
        return self.created_monotonic + PREPARING_SHARE * self.generation_seconds

    @property
    def done_monotonic(self) -> float:
        return self.created_monotonic + self.generation_seconds

    @property
    def done_at(self) -> float:
        return self.created_at + self.generation_seconds

    def status(self, now_monotonic: float | None = None) -> str:
        now = time.monotonic() if now_monotonic is None else now_monotonic
        if now < self.processing_monotonic:
            return PREPARING
        if now < self.done_monotonic:
            return PROCESSING
        return self.outcome


def _numeric_id(digits: int) -> str:
    return str(10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1)))


class TaskStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._files: dict[str, Task] = {}
        self._flaked_keys: set[str] = set()

    def add(
        self,
        owner_key: str,
        template_id: str,
        generation_seconds: float,
        outcome: str,
        with_file: bool,
        callback_url: str | None,
        media_urls: list[str] | None = None,
    ) -> Task:
        with self._lock:
            task_id = _numeric_id(18)
            while task_id in self._tasks:
                task_id = _numeric_id(18)
            file_id = None
            if with_file:
                file_id = _numeric_id(15)
                while file_id in self._files:
                    file_id = _numeric_id(15)
            task = Task(
                task_id=task_id,
                owner_key=owner_key,
                template_id=template_id,
                generation_seconds=generation_seconds,
                outcome=outcome,
                file_id=file_id,
                callback_url=callback_url,
                media_urls=list(media_urls or []),
            )
            self._tasks[task_id] = task
            if file_id:
                self._files[file_id] = task
            return task

    def get(self, task_id: str, owner_key: str | None = None) -> Task | None:
        """The task, or None when unknown or (given ``owner_key``) owned by another key."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or (owner_key is not None and task.owner_key != owner_key):
            return None
        return task

    def get_by_file(self, file_id: str, owner_key: str | None = None) -> Task | None:
        """The task of a file, or None when unknown or (given ``owner_key``) another key's."""
        with self._lock:
            task = self._files.get(file_id)
        if task is None or (owner_key is not None and task.owner_key != owner_key):
            return None
        return task

    def consume_flaky(self, key: str) -> bool:
        """True only the first time a ``flaky`` key calls create (until reset)."""
        with self._lock:
            if key in self._flaked_keys:
                return False
            self._flaked_keys.add(key)
            return True

    def record_push(self, task: Task, entry: dict[str, Any]) -> None:
        with self._lock:
            task.pushes.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            tasks = sorted(self._tasks.values(), key=lambda t: t.created_monotonic)
            return [
                {
                    "task_id": t.task_id,
                    # Never expose whole keys, even on a debug endpoint.
                    "key_last4": t.owner_key[-4:],
                    "template_id": t.template_id,
                    "status": t.status(now),
                    "created_at": int(t.created_at),
                    # Precise, for tests that check how many tasks of a key ran at once.
                    "started": t.created_at,
                    "ends": t.done_at,
                    "generation_seconds": t.generation_seconds,
                    "file_id": t.file_id,
                    "callback_url": t.callback_url,
                    "media_urls": list(t.media_urls),
                    "pushes": [dict(p) for p in t.pushes],
                }
                for t in tasks
            ]

    def reset(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._files.clear()
            self._flaked_keys.clear()
