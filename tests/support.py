"""Running the portal in other processes: a django-q2 cluster on the test database, a command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The URL of the database this test runs on, for a subprocess to share it."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


@contextmanager
def qcluster(**env_overrides: str):
    """A `manage.py qcluster` process sharing this test's database, storage and upstream."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "MINIMAX_BASE_URL": settings.MINIMAX_BASE_URL,
        "MINIMAX_CN_BASE_URL": settings.MINIMAX_CN_BASE_URL,
        "USEAPI_BASE_URL": settings.USEAPI_BASE_URL,
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        "PYTHONUNBUFFERED": "1",
        **env_overrides,
    }
    with background([sys.executable, "manage.py", "qcluster"], env=env) as proc:
        yield proc


@contextmanager
def background(args: list[str], *, env: dict[str, str]):
    """A process of the portal running beside the test, in a session of its own; stopped
    with SIGTERM (then SIGKILL) at the end, its output printed if it did not exit cleanly."""
    log = open(ROOT / f".background-{os.getpid()}.log", "w+")  # noqa: SIM115 (read at the end)
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        output = log.read()
        log.close()
        os.unlink(log.name)
        if proc.returncode not in (0, -15, -9):
            print(output)


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.25, what: str = "condition"):
    """Bounded wait for work done by another process (not a sleep standing in for a fact)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def run_portal(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """The portal in a fresh process with only the given environment (no test leg's env)."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
