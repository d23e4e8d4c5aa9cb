"""`manage.py qcluster`: django-q2's cluster, plus the dispatcher (videos.services.dispatch).

The dispatcher is a thread of the cluster's main process, started once the cluster has
forked its sentinel (which forks the workers): nothing is forked after it, so no child
inherits its database connection or locks. A daemon thread: it ends with the process (which
django-q keeps alive until its sentinel has stopped), and a round cut short only leaves work
to the next dispatcher round or the sweep.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from videos.services.dispatch import run_dispatcher


def _keep_connections() -> None:
    """Workers keep their database connection between tasks (WORKER_DB_CONN_MAX_AGE).

    A connection per task was three quarters of a poll's time (65 ms against 16 ms on the
    development machine). Django's persistent connections are right here, unlike under ASGI:
    a worker process runs one task at a time on one thread, django-q closes a connection
    older than CONN_MAX_AGE before each task (health-checked, CONN_HEALTH_CHECKS), and closes
    them all before it forks. DB_CONN_MAX_AGE, when set, still decides.

    The web role's connection pool (DB_POOL) is not for workers: a pool's threads do not
    survive the cluster's forks, and one task at a time needs one connection, not a pool.
    """
    for database in settings.DATABASES.values():
        database.get("OPTIONS", {}).pop("pool", None)
        if "DB_CONN_MAX_AGE" not in os.environ and not database["ENGINE"].endswith("sqlite3"):
            database["CONN_MAX_AGE"] = settings.WORKER_DB_CONN_MAX_AGE


class Command(qcluster.Command):
    help = "Starts a django-q2 cluster and, with JOB_DISPATCH, the dispatcher of due work."

    def handle(self, *args, **options):
        # As django-q2's own command (SECRET_KEY signs the task packages) ...
        settings.SECRET_KEY  # noqa: B018
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        _keep_connections()
        cluster = Cluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
            return
        # ... plus the dispatcher, now that every fork is done.
        if settings.JOB_DISPATCH:
            threading.Thread(
                target=run_dispatcher, args=(threading.Event(),), name="dispatcher", daemon=True
            ).start()
