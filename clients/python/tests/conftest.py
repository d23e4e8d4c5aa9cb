"""A live portal for vap to talk to: the test server (pytest-django's live_server), the
sandbox upstream, a real qcluster, and a user with a sandbox key and an API token.

The portal's own fixtures (tests/conftest.py) make the user, key and upstream; they are
imported here because these tests live outside that folder (they belong to the package).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (  # noqa: F401  (fixtures)
    _test_settings,
    catalogue,
    make_image,
    owner,
    sandbox,
    team,
)

CLIENT = Path(__file__).resolve().parent.parent


@dataclass
class Portal:
    url: str
    token: str
    team: object

    def vap(self, *args: str, cwd: Path, token: str | None = None, timeout: float = 120):
        """`python -m vap ...` in a process of its own, as a user runs it."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(cwd),
            "VAP_URL": self.url,
            "VAP_TOKEN": self.token if token is None else token,
            "COLUMNS": "120",
        }
        return subprocess.run(
            [sys.executable, "-m", "vap", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def portal(live_server, sandbox, settings, owner, team, catalogue) -> Portal:  # noqa: F811
    from integrations.services import token_create
    from videos.services import key_store

    # The sandbox pushes callbacks to the live server, so jobs move at once (no sweep wait).
    settings.PUBLIC_BASE_URL = live_server.url
    key_store(user=owner, label="Sandbox", secret="sk-vap-tests-gen1")
    token = token_create(user=owner, team=team, name="vap tests")[1]
    return Portal(url=live_server.url, token=token, team=team)


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(make_image(800, 600, "JPEG"))
    return path
