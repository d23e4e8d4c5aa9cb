"""ASGI entry point: what production and `make run` serve (gunicorn with uvicorn workers,
gunicorn.conf.py; uvicorn alone in development).

Under ASGI a job's event stream (videos.sse) waits on timers, not on a thread, so a thousand
open streams leave every thread free for pages, the API, /healthz and the upstream's
callbacks. Other views stay synchronous; Django runs each in a thread of its own.
"""

import io
import os

from django.core.asgi import get_asgi_application
from django.core.management import call_command

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_asgi_application()
# gunicorn and uvicorn run no system checks of their own: the web role refuses to start on
# what `manage.py check` refuses (the published demo user where DEBUG is off, say), as the
# worker and runserver do. A SystemCheckError here stops the server with the reason.
call_command("check", stdout=io.StringIO())
