"""Settings of the chaos run's clusters: the portal's own, with two leases made short.

Most of what the run shortens is read from the environment (tests/chaos/test_chaos_run.py
sets it). Two figures cannot be, and at their production values a dead worker's job would
wait longer than the whole run may take:

- django-q2's task `timeout`/`retry` (120/180 s): `retry` is also the lease of a running
  fetch (videos.services.fetch), so a fetch killed mid-download holds its job for 3 minutes;
- JOB_SUBMITTING_STUCK_SECONDS, which portal/settings.py requires to exceed the 120 s task
  timeout (the reconciler must never take back a submit whose worker is still waiting).

Here both shrink together and keep the order production relies on (the task timeout below
both leases), so the rule that guards production still holds for the clusters.

And successful task results are not stored (`save_limit` -1): nothing in the portal reads
them, and with `save_limit` 500 django-q2's monitor locks and reads up to 500 result rows for
every task it saves (django_q/monitor.py, save_task), which on a small CI machine puts it
tens of seconds behind the workers and takes CPU the run needs.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from portal.settings import *  # noqa: F403 (this module is the portal's settings, amended)
from portal.settings import Q_CLUSTER as PORTAL_Q_CLUSTER

TASK_TIMEOUT_SECONDS = 10
JOB_SUBMITTING_STUCK_SECONDS = 12
FETCH_LEASE_SECONDS = 15

Q_CLUSTER = {
    **PORTAL_Q_CLUSTER,
    "timeout": TASK_TIMEOUT_SECONDS,
    "retry": FETCH_LEASE_SECONDS,
    "save_limit": -1,
}
if not min(JOB_SUBMITTING_STUCK_SECONDS, FETCH_LEASE_SECONDS) > TASK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("chaos clusters: the task timeout must stay below both leases")
