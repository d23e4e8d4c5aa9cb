"""Sandbox upstream: a standard-library stand-in for MiniMax's Video Agent API.

Run it with ``python -m sandbox``; behaviours and key directives are described in
``sandbox.server``.
"""

from __future__ import annotations

from .server import SandboxServer

__all__ = ["SandboxServer"]
