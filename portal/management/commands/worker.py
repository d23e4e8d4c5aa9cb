"""`manage.py worker`: a django-q2 cluster that stops within a bounded grace on SIGTERM.

django-q2's `qcluster` can hang for good when the whole process group gets SIGTERM (what a
terminal's Ctrl-C, `kill -TERM -<pgid>` or a service manager's stop sends): its sentinel dies
of the signal while waiting on the stop event, and the main process then blocks for ever in
that event's `set()`. So the cluster runs here in a session of its own, out of reach of
signals to ours: SIGTERM or SIGINT is passed to the cluster's main process alone (it stops
taking tasks and lets the running ones finish), and whatever is still running after `--grace`
seconds (WORKER_STOP_GRACE_SECONDS) is killed. A task cut short that way is no loss: every
task is safe to run twice, the sweeper hands due work out again, and a create cut mid-call is
found again before any second create (videos.services.submit).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Runs a django-q2 cluster; SIGTERM stops it within --grace seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=settings.WORKER_STOP_GRACE_SECONDS,
            help="Seconds running tasks get to finish after SIGTERM before they are killed.",
        )

    def handle(self, *args, grace: float, **options):
        if settings.METRICS_PORT:
            # This host's instruments for Prometheus: the cluster's processes write them to
            # PROMETHEUS_MULTIPROC_DIR (inherited), this process adds them up at each scrape.
            from prometheus_client import start_http_server

            from portal import instruments

            start_http_server(
                settings.METRICS_PORT,
                addr=settings.METRICS_BIND,
                registry=instruments.scrape_registry(),
            )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        cluster = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
            start_new_session=True,
        )
        while cluster.poll() is None and not stop.wait(0.5):
            pass
        if cluster.poll() is None:
            cluster.send_signal(signal.SIGTERM)
            try:
                cluster.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"worker: tasks still running after {grace:g} s; killing them")
        # The cluster's own processes (sentinel, workers) share its session's group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()
        if not stop.is_set():
            # The cluster ended by itself: say so with its exit code (a supervisor restarts).
            sys.exit(cluster.returncode or 1)
