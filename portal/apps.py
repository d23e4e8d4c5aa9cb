"""The project package as an app: only to connect the log context, the task metrics and the
worker's warm-up (portal/warmup.py) to django-q2's signals;
and the admin's app config, with the portal's admin site (portal/admin_site.py)."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from django_q.signals import post_execute_in_worker, post_spawn, pre_enqueue, pre_execute

        from portal import instruments, warmup
        from portal import logging as portal_logging

        # dispatch_uid: ready() may run twice (tests, autoreload); connect once.
        pre_enqueue.connect(portal_logging.task_pre_enqueue, dispatch_uid="portal.log.enqueue")
        pre_execute.connect(portal_logging.task_pre_execute, dispatch_uid="portal.log.execute")
        post_execute_in_worker.connect(
            portal_logging.task_post_execute, dispatch_uid="portal.log.executed"
        )
        # /metrics: task run times and queue waits (portal/instruments.py).
        pre_execute.connect(instruments.task_pre_execute, dispatch_uid="portal.metrics.execute")
        post_execute_in_worker.connect(
            instruments.task_post_execute, dispatch_uid="portal.metrics.executed"
        )
        post_spawn.connect(warmup.storage_client, dispatch_uid="portal.warmup.storage")
