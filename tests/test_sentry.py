"""Optional Sentry (portal/sentry.py): off without SENTRY_DSN, and nothing secret leaves."""

from __future__ import annotations

from portal.sentry import before_send
from tests.support import run_portal

SECRET = "sk-live-0123456789abcdefSECRET"
TOKEN = "cbTOKEN0123456789abcdefghijklmno"  # a job's callback capability

CHECK = (
    "import django; django.setup(); import sentry_sdk; c = sentry_sdk.get_client(); "
    "print(c.is_active(), c.options.get('include_local_variables'), "
    "c.options.get('send_default_pii'), getattr(c.options.get('before_send'), '__module__', ''))"
)

BASE_ENV = {"DJANGO_SECRET_KEY": "x" * 50}


def test_it_does_nothing_without_a_dsn():
    result = run_portal(["-c", CHECK], **BASE_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


def test_it_reports_through_the_scrubber_with_a_dsn():
    result = run_portal(["-c", CHECK], SENTRY_DSN="https://public@sentry.invalid/1", **BASE_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "False", "portal.sentry"]


def test_it_drops_headers_bodies_cookies_and_frame_variables():
    event = {
        "request": {
            "url": f"https://portal.example/callbacks/minimax/{TOKEN}/",
            "method": "POST",
            "headers": {"Authorization": f"Bearer {SECRET}"},
            "cookies": {"sessionid": "s"},
            "data": {"secret": SECRET},
            "query_string": f"key={SECRET}",
        },
        "user": {"id": 7, "email": "owner@example.com", "ip_address": "203.0.113.9"},
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"bad key Bearer {SECRET}",
                    "stacktrace": {"frames": [{"filename": "x.py", "vars": {"s": SECRET}}]},
                }
            ]
        },
        "extra": {"secret": SECRET},
        "breadcrumbs": {"values": [{"message": SECRET}]},
    }
    scrubbed = before_send(event, {})
    assert SECRET not in repr(scrubbed) and TOKEN not in repr(scrubbed)
    assert scrubbed["request"] == {
        "url": "https://portal.example/callbacks/minimax/[redacted]/",
        "method": "POST",
    }
    assert scrubbed["user"] == {"id": 7}
    assert scrubbed["exception"]["values"][0]["type"] == "ValueError"
