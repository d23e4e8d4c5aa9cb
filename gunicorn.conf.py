"""gunicorn settings for the web role: `gunicorn portal.asgi` (read from this file by default).

gunicorn manages the processes (restarts, graceful reloads, recycling); each one is a uvicorn
worker serving the ASGI app. The portal's requests are short (uploads of a few MB, JSON,
redirects to signed storage URLs); the one long-lived kind is the API's server-sent events
stream, which under ASGI waits on timers rather than holding a thread, so a worker keeps
answering pages, /healthz and upstream callbacks with any number of streams open.
Sized from the CPU count; every value can be overridden from the environment (docs/deploy.md).
"""

from __future__ import annotations

import multiprocessing
import os

from portal.logging import gunicorn_logconfig


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


_cpus = multiprocessing.cpu_count()

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{_int('PORT', 8000)}")
# The classic (2 x CPU) + 1 processes, capped so a big host does not open more database
# connections than PostgreSQL allows (workers x threads x web hosts < max_connections).
workers = _int("WEB_CONCURRENCY", min(2 * _cpus + 1, 12))
worker_class = "uvicorn_worker.UvicornWorker"
# The worker's heartbeat to gunicorn: an event loop blocked this long is restarted.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then: a slow leak never becomes an outage.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# The proxy in front sets X-Forwarded-Proto; trust it only from where the proxy lives.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which
# two instances on a host would fight over; off unless a path is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
# Heartbeat files on tmpfs: a slow disk must not make healthy workers look stuck. (Only
# gunicorn's own unlinked heartbeat files go there, nothing anyone else reads.)
_shm = "/dev/shm"  # noqa: S108
worker_tmp_dir = _shm if os.path.isdir(_shm) else None

# Requests are logged by portal.logging.RequestLogMiddleware (redacted, with the trace id);
# gunicorn's own lines go through the same redacting handler, as JSON unless told otherwise.
# Same rule as portal/settings.py: JSON unless DJANGO_DEBUG is on, LOG_FORMAT decides.
_debug = os.environ.get("DJANGO_DEBUG", "true").strip().lower() in ("1", "true", "yes", "on")
_json = os.environ.get("LOG_FORMAT", "plain" if _debug else "json") == "json"
logconfig_dict = gunicorn_logconfig(json_lines=_json, level=os.environ.get("LOG_LEVEL", "INFO"))
accesslog = None
