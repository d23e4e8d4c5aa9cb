"""The chaos run's worker hosts: `manage.py qcluster` processes that can be SIGKILLed, restarted,
and asked which of them holds a given connection to the sandbox.

Each cluster runs in a session of its own, so one `killpg` takes its main process, sentinel,
pusher, monitor and workers down at once, as a host losing power would. `owns_port` reads
/proc (Linux, like CI): the sandbox reports the client port of a request it is answering, and
the socket with that local port belongs to exactly one process of one cluster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Cluster:
    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.log_dir = log_dir
        self.generation = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    def start(self) -> None:
        self.generation += 1
        log = self.log_dir / f"{self.name}-{self.generation}.log"
        self.logs.append(log)
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exited(self) -> int | None:
        """The exit code of a cluster that stopped by itself, else None."""
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        """SIGKILL the whole cluster: nothing of it runs a line more."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM to the main process only (a group-wide SIGTERM can hang django-q2, see
        portal/management/commands/worker.py), then whatever is left of the group is killed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def running(self) -> bool:
        """True once the current process said it runs (django-q2 logs "... running.")."""
        return bool(self.logs) and "running." in self.logs[-1].read_text(errors="replace")

    def tail(self, chars: int = 3000) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}" for log in self.logs
        )

    def processes(self) -> list[int]:
        """Every live process of the current cluster (its process group)."""
        if self.process is None or self.process.poll() is not None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Fields after the command name (in parentheses, which may hold spaces).
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == self.pid:  # pgrp
                found.append(int(entry.name))
        return found

    def owns_port(self, local_port: int) -> bool:
        """True when a process of this cluster holds the TCP socket bound to `local_port`."""
        inodes = _socket_inodes(local_port)
        if not inodes:
            return False
        for pid in self.processes():
            try:
                fds = list(Path(f"/proc/{pid}/fd").iterdir())
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return True
        return False


def _socket_inodes(local_port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == local_port and fields[9] != "0":
                inodes.add(fields[9])
    return inodes
