"""The layering of the README's architecture section, kept: apps import only downward, and no
two modules import each other (directly or round a loop), counting imports inside functions.

    portal (core) <- accounts <- billing <- videos <- batches <- integrations <- portal (top)
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = [
    "accounts",
    "billing",
    "videos",
    "batches",
    "integrations",
    "notifications",
    "portal",
    "sandbox",
]

# Who each app may import (besides itself). The sandbox is a separate process: nothing.
ALLOWED = {
    "accounts": {"portal"},
    "billing": {"portal", "accounts"},
    "videos": {"portal", "accounts", "billing"},
    # Batches of jobs: they follow their jobs through videos.signals.
    "batches": {"portal", "accounts", "billing", "videos"},
    "integrations": {"portal", "accounts", "billing", "videos", "batches"},
    # The top app: it follows the others through their signals; nothing imports it (its
    # receivers, context processor and URLs are reached through Django's app registry).
    "notifications": {"portal", "accounts", "billing", "videos", "batches", "integrations"},
    "portal": set(),
    "sandbox": set(),
}
# The top of the stack: they assemble the apps (URLs, the API, token checks, health).
PORTAL_TOP = {"portal.urls", "portal.api.v1", "portal.api.auth", "portal.health"}


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _ours(name: str) -> str | None:
    """The longest module of ours that `name` is or lies in."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(filter(None, (_ours(alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = _ours(f"{node.module}.{alias.name}") or _ours(node.module)
                if target:
                    found.add(target)
    return found


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def test_it_imports_only_down_the_layers():
    wrong = []
    for module, targets in GRAPH.items():
        app = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other == app:
                continue
            if app == "portal" and module in PORTAL_TOP:
                continue
            if other not in ALLOWED[app]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_it_keeps_portal_core_free_of_apps():
    core = [m for m in GRAPH if m.startswith("portal") and m not in PORTAL_TOP]
    assert core  # errors, logging, netguard, the API's plumbing ...
    for module in core:
        assert {t.split(".")[0] for t in GRAPH[module]} <= {"portal"}, module
        assert not GRAPH[module] & PORTAL_TOP, module


def test_it_has_no_import_cycle_between_modules():
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert cycles == []


def test_it_names_no_upstream_outside_its_provider_module():
    """Services, tasks, fetch and callbacks speak only the provider interface."""
    neutral = ["videos/services", "videos/tasks.py", "videos/callbacks.py", "videos/downloads.py"]
    for place in neutral:
        paths = [ROOT / place] if place.endswith(".py") else (ROOT / place).rglob("*.py")
        for path in paths:
            text = path.read_text().lower()
            assert "minimax." not in text and "useapi." not in text, path
            assert "providers.minimax" not in text and "providers.useapi" not in text, path
