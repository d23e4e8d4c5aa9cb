"""The product's settings, with the bench's URLconf on top (the bare comparison endpoints).

Only the harness's own gunicorn is started with DJANGO_SETTINGS_MODULE=bench.settings.
"""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
