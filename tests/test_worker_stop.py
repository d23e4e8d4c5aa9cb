"""`manage.py worker` stops within its grace on SIGTERM to its whole process group (a
terminal's Ctrl-C, a deploy), even with a task running: plain `qcluster` hangs for good."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest

from tests import support
from tests.support import ROOT, wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

GRACE = 4


def family(root: int) -> list[int]:
    """The process and all its descendants that are still running (zombies excluded)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,stat="], capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    children: dict[int, list[int]] = {}
    running = set()
    for pid, ppid, stat in rows:
        children.setdefault(int(ppid), []).append(int(pid))
        if not stat.startswith("Z"):
            running.add(int(pid))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [pid for pid in found if pid in running]


def still_running(pids: list[int]) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,stat="], capture_output=True, text=True)
    running = {
        int(p)
        for p, stat in (line.split() for line in out.stdout.splitlines())
        if not stat.startswith("Z")
    }
    return [pid for pid in pids if pid in running]


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "mid-task"])
def test_it_stops_within_the_grace_when_its_group_gets_sigterm(tmp_path, busy):
    from django_q.tasks import async_task

    env = {**os.environ, "DATABASE_URL": support.test_database_url(), "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 (read on failure)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--grace", str(GRACE)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    members = [worker.pid]
    try:
        wait_for(lambda: "running." in _read(log), timeout=30, what="the cluster to start")
        if busy:
            async_task("time.sleep", 120)  # a task that would outlast any grace
            # Either broker (ORM or Redis): the worker's own log says it took the task.
            wait_for(lambda: "processing" in _read(log), timeout=60, what="the task to start")
        members = family(worker.pid)
        assert len(members) >= 5  # the worker, the cluster, its sentinel, pusher, workers
        os.killpg(worker.pid, signal.SIGTERM)  # the whole group, as Ctrl-C or a deploy does
        # Within the grace and a little more: no process of it is left.
        wait_for(
            lambda: not still_running(members), timeout=GRACE + 6, what="every process to exit"
        )
        assert worker.wait(timeout=1) == 0
    finally:
        for pid in still_running(sorted({*members, *family(worker.pid)})):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if worker.poll() is None:
            worker.kill()
        print(_read(log))
        log.close()


def _read(log) -> str:
    log.seek(0)
    return log.read()
