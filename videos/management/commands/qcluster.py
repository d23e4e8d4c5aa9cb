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


class Command(qcluster.Command):
    help = "Starts a django-q2 cluster and, with JOB_DISPATCH, the dispatcher of due work."

    def handle(self, *args, **options):
        # As django-q2's own command (SECRET_KEY signs the task packages) ...
        settings.SECRET_KEY  # noqa: B018
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
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
