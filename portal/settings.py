"""One settings file, read from the environment.

A fresh clone runs as is: SQLite, the django-q2 ORM broker, local `media/` and the
sandbox upstream (started by `make run`). Production sets DATABASE_URL, REDIS_URL,
S3_BUCKET, DJANGO_SECRET_KEY, VAULT_KEYS, ... (see docs and README).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

# Production (DJANGO_DEBUG=false) has no safe default for these. Every missing or unusable
# one is named in a single error, so an operator fixes them in one go, not one per restart.
# Values are never echoed. See docs/deploy.md for what each one is.
REQUIRED_IN_PRODUCTION = ("DJANGO_SECRET_KEY", "VAULT_KEYS")
# Django's backends that deliver nothing: fine on a laptop, silent loss of every verification
# and password-reset mail in production.
DEV_EMAIL_BACKENDS = tuple(
    f"django.core.mail.backends.{name}.EmailBackend"
    for name in ("console", "locmem", "dummy", "filebased")
)


def parse_email_url(url: str) -> dict[str, Any]:
    """EMAIL_URL as Django's EMAIL_* settings.

    `smtp://user:password@host:587/?tls=true` (STARTTLS), `smtps://user:password@host/` (TLS
    from the first byte, port 465), `smtp://host:25/` (a local relay); `timeout=` in seconds
    (default 10, so a hung server cannot hold a web thread). User and password are
    percent-decoded. Raises ValueError with a message that never repeats the URL (it holds a
    password).
    """
    from urllib.parse import parse_qs, unquote, urlsplit

    truthy = ("1", "true", "yes", "on")
    usage = "EMAIL_URL is not a usable smtp://[user:password@]host[:port]/ or smtps:// URL"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(usage)
    query = {name: values[-1].strip().lower() for name, values in parse_qs(parts.query).items()}
    ssl = parts.scheme == "smtps" or query.get("ssl") in truthy
    tls = query.get("tls") in truthy
    if ssl and tls:
        raise ValueError("EMAIL_URL asks for both STARTTLS (tls=true) and TLS (smtps/ssl=true)")
    try:
        port = parts.port or (465 if ssl else 587 if tls else 25)
        timeout = int(query.get("timeout", "10"))
    except ValueError:
        raise ValueError(usage) from None
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": tls,
        "EMAIL_USE_SSL": ssl,
        "EMAIL_TIMEOUT": timeout,
    }


def _production_problems() -> list[str]:
    from cryptography.fernet import Fernet

    problems = [f"{name} is not set" for name in REQUIRED_IN_PRODUCTION if not env_list(name)]
    for key in env_list("VAULT_KEYS"):
        try:
            Fernet(key.encode())
        except ValueError:
            problems.append("VAULT_KEYS holds a value that is not a Fernet key")
            break
    # Mail must really go out: sign-up verification and password resets depend on it.
    backend = env("EMAIL_BACKEND").strip()
    if backend in DEV_EMAIL_BACKENDS:
        name = backend.split(".")[-2]
        problems.append(f"EMAIL_BACKEND is Django's {name} backend, which delivers no mail")
    elif backend in ("", "django.core.mail.backends.smtp.EmailBackend"):
        # SMTP (the default in production) is configured by EMAIL_URL; another backend
        # (django-anymail's) brings its own settings.
        if not env("EMAIL_URL"):
            problems.append("EMAIL_URL is not set")
        else:
            try:
                parse_email_url(env("EMAIL_URL"))
            except ValueError as exc:
                problems.append(str(exc))
    if env("SSO_PROVIDERS_JSON"):
        try:
            json.loads(env("SSO_PROVIDERS_JSON"))
        except ValueError:
            problems.append("SSO_PROVIDERS_JSON is not valid JSON")
    return problems


if not DEBUG and (_problems := _production_problems()):
    raise ImproperlyConfigured(
        "Cannot start with DJANGO_DEBUG=false: "
        + "; ".join(_problems)
        + ". Set them in the environment (docs/deploy.md lists every setting)."
    )

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-in-production"  # noqa: S105
SECRET_KEY = env("DJANGO_SECRET_KEY", _DEV_SECRET)  # production stopped above without it
# Old keys still accepted for sessions and signed links while a new SECRET_KEY rolls out.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    # django.contrib.admin, with the site of portal/admin_site.py.
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Serves the API docs' Swagger UI from our own static files, not a CDN (works offline).
    "ninja",
    "accounts",
    "videos",
    # After videos: its `qcluster` command (the cluster plus the dispatcher) replaces django-q's.
    "django_q",
    "billing",
    "batches",
    "integrations",
    "notifications",
    "portal.apps.PortalConfig",
    # Accounts: sign-up, sign-in, email verification, password reset, two-factor
    # (django-allauth). After "accounts", whose templates (accounts/templates/) restyle allauth's.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # The Content-Security-Policy header (its policy is under "Security" below).
    "csp",
]

MIDDLEWARE = [
    # First: probes are answered before host checks and the https redirect (portal/health.py).
    "portal.health.HealthCheckMiddleware",
    # A trace id for every log line of the request (and one request line in production).
    "portal.logging.RequestLogMiddleware",
    # Outside the rest, so it sees every answer: under /api/ even Django's own 400/404/405/500
    # pages become JSON.
    "portal.api.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every answer, error pages included.
    "csp.middleware.CSPMiddleware",
    # Static files straight from the web process, compressed and cached forever by hash.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A member of a team that requires two-factor authentication sets it up first.
    "accounts.middleware.TeamMfaRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A service's refusal raised out of a page view becomes the error page with its status.
    "portal.web.DomainErrorMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_team",
                "videos.context_processors.key_alerts",
                "notifications.context_processors.bell",
            ],
        },
    },
]

# SQLite by default; DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/portal) for production.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # 0: no persistent connections. Under ASGI each request runs its sync code in a
        # thread of its own, where a kept connection would outlive its thread; on PostgreSQL
        # a pool (below) keeps them instead. Workers keep theirs (WORKER_DB_CONN_MAX_AGE).
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
        # A persistent connection the database dropped (failover, restart) is replaced
        # before the request uses it, not discovered by a 500.
        conn_health_checks=True,
    )
}
# A connection pool per web process (psycopg-pool, Django's "pool" option): opening a
# PostgreSQL connection for each request was most of a small request's time
# (docs/benchmarks.md). Off with DB_POOL=false (e.g. behind PgBouncer in transaction mode);
# worker processes use persistent connections instead (videos/management/commands/qcluster.py).
DB_POOL = env_bool("DB_POOL", True) and DATABASES["default"]["ENGINE"].endswith("postgresql")
if DB_POOL and not DATABASES["default"]["CONN_MAX_AGE"]:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2),
        # Per process: gunicorn's workers x this must stay under PostgreSQL's max_connections.
        "max_size": env_int("DB_POOL_MAX_SIZE", 10),
        "timeout": env_int("DB_POOL_TIMEOUT", 10),  # seconds a request waits for a connection
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Web, worker and scheduler write the same file: WAL lets readers go on while one writes,
    # IMMEDIATE takes the write lock up front so two writers queue instead of deadlocking.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so the qcluster a test starts in another process sees the data;
    # one per test process, so two test runs on one machine don't share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"portal-test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Accounts (django-allauth) ------------------------------------------------------------
# Sign-up with a unique, verified email; sign-in by username or email; password reset and
# change; optional TOTP two-factor (which a team's owners can require: accounts.middleware).
AUTHENTICATION_BACKENDS = [
    # Django's own, for authenticate(username=..., password=...) outside the sign-in page.
    "django.contrib.auth.backends.ModelBackend",
    # The sign-in page (the admin's too, portal/urls.py): username or email, rate-limited.
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "videos:gallery"
LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# No sign-in before the address is confirmed: invitations and password resets go to it.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
# The link in the mail opens a page with a button (a mail scanner's GET confirms nothing);
# confirming in the browser that signed up signs in and goes on to where sign-up was heading
# (e.g. back to an invitation link).
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SIGNUP_REDIRECT_URL = "videos:keys"  # a new user's first step: their upstream key
ACCOUNT_SESSION_REMEMBER = True  # as before: a session lasts SESSION_COOKIE_AGE, no checkbox
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Video Agent Portal] "
# Throttling ("amount/period/per"; allauth's syntax). Failed sign-ins count per client IP and
# per account (accounts.adapter folds username and email into one key); past the limit even
# the right password is refused until the period has passed. Counters live in the cache
# (CACHES below: shared by every process when REDIS_URL is set).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
}
# The client IP the per-IP limits count: behind the load balancer (docs/deploy.md) it is the
# last X-Forwarded-For entry the balancer added; without one, REMOTE_ADDR. 0 trusts no header.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0 if DEBUG else 1)
if env("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("REDIS_URL"),
            # One Redis may serve several sites (or test runs): their counters stay apart.
            "KEY_PREFIX": env("Q_CLUSTER_NAME", "portal"),
        }
    }
# Two-factor: an authenticator app (TOTP) and one-time recovery codes. No WebAuthn, so no
# script runs on these pages.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Video Agent Portal"

# Single sign-on, off until an operator names providers (docs/deploy.md, "Single sign-on"):
# SSO_PROVIDERS=openid_connect (and/or saml), their apps in SSO_PROVIDERS_JSON (allauth's
# SOCIALACCOUNT_PROVIDERS as JSON) or in the admin's "Social applications". Nothing is fetched
# at start: OpenID discovery happens at the first sign-in through the provider.
SSO_PROVIDERS = env_list("SSO_PROVIDERS")
if SSO_PROVIDERS:
    INSTALLED_APPS += [
        "allauth.socialaccount",
        *(f"allauth.socialaccount.providers.{name}" for name in SSO_PROVIDERS),
    ]
SOCIALACCOUNT_PROVIDERS: dict[str, Any] = json.loads(env("SSO_PROVIDERS_JSON") or "{}")
# A provider's address is trusted as verified only when the provider says so (OIDC
# email_verified); an existing account is never taken over by an address match alone.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# `manage.py collectstatic` fills it on every release (docs/deploy.md); whitenoise serves it.
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Development and tests read static files from their app folders as they change.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))

STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if not DEBUG:
    # Hashed names (cached for a year by browsers and CDNs) plus gzip/brotli copies.
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
S3_BUCKET = env("S3_BUCKET")
S3_ENDPOINT_URL = env("S3_ENDPOINT_URL")
# Lifetime of the signed links to stored files: long enough to start playing, short enough
# that a leaked link is soon useless (each page view signs a new one).
S3_URL_EXPIRE_SECONDS = env_int("S3_URL_EXPIRE_SECONDS", 300)
# S3 parts are at least 5 MB (but the last); 8 MB is boto3's own default.
S3_MULTIPART_CHUNK_BYTES = env_int("S3_MULTIPART_CHUNK_BYTES", 8 * 1024 * 1024)


def _s3_transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=S3_MULTIPART_CHUNK_BYTES,
        multipart_chunksize=S3_MULTIPART_CHUNK_BYTES,
        max_concurrency=2,
    )
    # Parts of a stream that can't seek are buffered in memory: at most this many at once
    # (two: one being read from the upstream while the other is sent).
    config.max_in_memory_upload_chunks = 2
    return config


if S3_BUCKET:
    # Credentials come the AWS way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance
    # role, ...), never through settings. The bucket stays private: no ACL is set on objects
    # (the bucket's owner-only default applies) and every URL handed out is signed and
    # short-lived (videos.views.job_video).
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": S3_ENDPOINT_URL or None,
            "region_name": env("S3_REGION", "us-east-1"),
            "signature_version": "s3v4",
            # Path style works with every S3-compatible server (MinIO, moto, Ceph) as well.
            "addressing_style": env("S3_ADDRESSING_STYLE", "path"),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": S3_URL_EXPIRE_SECONDS,
            "file_overwrite": False,
            # A result streams in as it downloads (videos.downloads.store): multipart above
            # one part, and at most a few parts in memory at once, so a worker's memory
            # stays flat (< 64 MB more for a 200 MB video) however big the file.
            "transfer_config": _s3_transfer_config(),
        },
    }

# Uploaded images are read by Pillow straight from the request; keep big ones on disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024

# --- The key vault ---------------------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation: put the new key
# first, run `manage.py rotate_vault_keys`, then drop the old one).
VAULT_KEYS = env_list("VAULT_KEYS")
if not VAULT_KEYS:  # only in DEBUG: production stopped above without it
    # Development only: derived from SECRET_KEY so a fresh clone works; warned about at start.
    VAULT_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(f"vault:{SECRET_KEY}".encode()).digest()).decode()
    ]
    VAULT_KEYS_DERIVED = True
else:
    VAULT_KEYS_DERIVED = False

# --- Upstream ---------------------------------------------------------------------------
MINIMAX_BASE_URL = env("MINIMAX_BASE_URL", "https://api.minimax.io")
MINIMAX_CN_BASE_URL = env("MINIMAX_CN_BASE_URL", "https://api.minimaxi.com")
USEAPI_BASE_URL = env("USEAPI_BASE_URL", "https://api.useapi.net")
# Where each upstream's result and image links may point (host names, or ".domain" for a
# domain and its subdomains); empty: any public host. Every link is fetched at public
# addresses only, each redirect hop checked again, whatever these say.
MINIMAX_RESULT_HOSTS = env_list("MINIMAX_RESULT_HOSTS")
USEAPI_RESULT_HOSTS = env_list("USEAPI_RESULT_HOSTS")
# A result download taking longer than this is cut and retried later (seconds).
DOWNLOAD_MAX_SECONDS = env_int("DOWNLOAD_MAX_SECONDS", 900)
# Where the upstream can reach our callback view; unset: no callback_url, polling does it.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL").rstrip("/")
# (connect, read) seconds for every upstream call; a create gets longer to answer, since an
# answer lost to a timeout leaves it ambiguous (the upstream may have made, and billed, it).
UPSTREAM_TIMEOUT = (env_int("UPSTREAM_CONNECT_TIMEOUT", 5), env_int("UPSTREAM_READ_TIMEOUT", 30))
UPSTREAM_CREATE_TIMEOUT = (
    env_int("UPSTREAM_CONNECT_TIMEOUT", 5),
    env_int("UPSTREAM_CREATE_READ_TIMEOUT", 60),
)
# useapi.net templates: the price of a video when the catalogue listing gives no credits, and
# what one useapi credit costs the team when it does (both in cents).
USEAPI_DEFAULT_PRICE_CENTS = env_int("USEAPI_DEFAULT_PRICE_CENTS", 50)
# --- The key pool (videos.services.pool): defaults for keys whose owner set no limits -----
# MiniMax publishes about 20 video requests a minute per paid account (5 free); no figure for
# tasks at once. useapi.net runs a key's `maxJobs` at once; 3 is its advice for paid accounts.
MINIMAX_KEY_MAX_CONCURRENT = env_int("MINIMAX_KEY_MAX_CONCURRENT", 5)
MINIMAX_KEY_RPM = env_int("MINIMAX_KEY_RPM", 20)
USEAPI_DEFAULT_MAX_JOBS = env_int("USEAPI_DEFAULT_MAX_JOBS", 3)
# A key out of balance rests this long before jobs try it again (its owner is told at once).
KEY_BALANCE_COOLOFF_SECONDS = env_int("KEY_BALANCE_COOLOFF_SECONDS", 3600)
# A rate-limited key without Retry-After rests this long.
KEY_RATE_LIMIT_COOLOFF_SECONDS = env_int("KEY_RATE_LIMIT_COOLOFF_SECONDS", 30)
# A job waiting for a free key looks again this often (a finishing job wakes it sooner).
JOB_POOL_RECHECK_SECONDS = env_int("JOB_POOL_RECHECK_SECONDS", 15)
USEAPI_CENTS_PER_CREDIT = float(env("USEAPI_CENTS_PER_CREDIT", "1"))

# --- Job life cycle ---------------------------------------------------------------------
JOB_SUBMIT_MAX_ATTEMPTS = env_int("JOB_SUBMIT_MAX_ATTEMPTS", 6)
# The first look comes this soon after the create (handed out on time by the dispatcher).
JOB_POLL_FIRST_SECONDS = env_int("JOB_POLL_FIRST_SECONDS", 4)
JOB_POLL_MAX_SECONDS = env_int("JOB_POLL_MAX_SECONDS", 300)
# A job the upstream has not finished after this long is asked about only every
# JOB_SLOW_POLL_SECONDS; it is never failed on our clock alone (the upstream may still bill).
JOB_SLOW_POLL_AFTER_SECONDS = env_int("JOB_SLOW_POLL_AFTER_SECONDS", 24 * 3600)
JOB_SLOW_POLL_SECONDS = env_int("JOB_SLOW_POLL_SECONDS", 3600)
# A job in `submitting` this long had its worker die mid-call: the reconciler requeues it.
JOB_SUBMITTING_STUCK_SECONDS = env_int("JOB_SUBMITTING_STUCK_SECONDS", 300)
JOB_FETCH_MAX_ATTEMPTS = env_int("JOB_FETCH_MAX_ATTEMPTS", 8)
# A look at a processing job that breaks unexpectedly (a bug, the database) is tried again at
# the next look; after this many such breaks in a job's life it fails rather than loop.
JOB_POLL_MAX_ERRORS = env_int("JOB_POLL_MAX_ERRORS", 5)
# Pushes from the upstream make a job be asked at once, at most once per this many seconds.
JOB_FORCED_POLL_MIN_SECONDS = env_int("JOB_FORCED_POLL_MIN_SECONDS", 5)
# After a create whose answer was lost, wait this long for the upstream to show the task (a
# push to the job's callback URL, its listings) before asking it to create again.
JOB_AMBIGUOUS_GRACE_SECONDS = env_int("JOB_AMBIGUOUS_GRACE_SECONDS", 120)
# A job refused for rate or capacity (the account is busy) waits its turn, retrying after each
# Retry-After, for this long at most; those refusals do not use up JOB_SUBMIT_MAX_ATTEMPTS.
JOB_RATE_LIMIT_MAX_WAIT_SECONDS = env_int("JOB_RATE_LIMIT_MAX_WAIT_SECONDS", 24 * 3600)
JOBS_PER_PAGE = 20
# The staff dashboard keeps a built board this long per filter (videos/dashboard.py): its
# figures read every job of the range, so reloading it costs one build a minute at most.
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 60)
# The dispatcher (videos/services/dispatch.py), a loop in every worker cluster, hands out due
# work on time; the once-a-minute sweep is the safety net. It looks again at least this often
# (due times written by other processes are noticed within it), hands out this many per round,
# and hands a job out again when the task it handed out has not claimed it after the lease.
JOB_DISPATCH = env_bool("JOB_DISPATCH", True)
JOB_DISPATCH_MAX_SLEEP_SECONDS = float(env("JOB_DISPATCH_MAX_SLEEP_SECONDS", "1.0"))
JOB_DISPATCH_BATCH = env_int("JOB_DISPATCH_BATCH", 500)
JOB_DISPATCH_LEASE_SECONDS = env_int("JOB_DISPATCH_LEASE_SECONDS", 60)
# Worker processes keep their database connection this long (videos/.../qcluster.py);
# DB_CONN_MAX_AGE, when set, applies to them too.
WORKER_DB_CONN_MAX_AGE = env_int("WORKER_DB_CONN_MAX_AGE", 60)

# --- JSON API and outgoing webhooks (integrations/) --------------------------------------
# Webhook callback URLs must resolve to public addresses; tests and local demos may allow
# private ones (127.0.0.1, 10.x, ...). Never turn this on where users are not trusted.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# (connect, read) seconds for every webhook POST.
WEBHOOK_TIMEOUT = (env_int("WEBHOOK_CONNECT_TIMEOUT", 5), env_int("WEBHOOK_READ_TIMEOUT", 10))
# After a rotation the old whsec_ secret signs too, for this long.
WEBHOOK_SECRET_OVERLAP_SECONDS = env_int("WEBHOOK_SECRET_OVERLAP_SECONDS", 24 * 3600)
# Server-sent events: look at the database this often, ping idle streams, and end a stream
# after SSE_MAX_SECONDS (the client reconnects with Last-Event-ID) so no thread is held long.
SSE_POLL_SECONDS = float(env("SSE_POLL_SECONDS", "1.0"))
SSE_HEARTBEAT_SECONDS = float(env("SSE_HEARTBEAT_SECONDS", "15"))
SSE_MAX_SECONDS = float(env("SSE_MAX_SECONDS", "300"))
# Open event streams at once, per API token and per team, across all web workers (429 past
# them): one caller cannot take a site's streams.
SSE_MAX_PER_TOKEN = env_int("SSE_MAX_PER_TOKEN", 10)
SSE_MAX_PER_TEAM = env_int("SSE_MAX_PER_TEAM", 100)

# --- Teams, quotas and billing ------------------------------------------------------------
# The plan a new team starts on (made by billing's data migration; edit it in the admin after).
# Generous enough to make videos at once; money is in integer cents.
DEFAULT_PLAN_VIDEOS = env_int("DEFAULT_PLAN_VIDEOS", 100)
DEFAULT_PLAN_BUDGET_CENTS = env_int("DEFAULT_PLAN_BUDGET_CENTS", 10_000)
DEFAULT_PLAN_MAX_CONCURRENT = env_int("DEFAULT_PLAN_MAX_CONCURRENT", 25)
# The most items (videos) one batch may hold (JSON API and the portal's CSV upload alike).
BATCH_MAX_ITEMS = env_int("BATCH_MAX_ITEMS", 1000)
# An invitation link works once, until it expires.
INVITATION_EXPIRY_DAYS = env_int("INVITATION_EXPIRY_DAYS", 7)

# --- Email ------------------------------------------------------------------------------
# Verification, password-reset and invitation mails, through Django's email API. Development
# prints them on the console. Production sends through SMTP given by EMAIL_URL
# (smtp://user:password@host:587/?tls=true, parsed by parse_email_url above), or through the
# backend EMAIL_BACKEND names (django-anymail's for Mailgun, SES, Postmark, ...: docs/deploy.md);
# a backend that delivers nothing stops the start (_production_problems).
EMAIL_URL = env("EMAIL_URL")
if EMAIL_URL:
    try:
        _smtp = parse_email_url(EMAIL_URL)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    EMAIL_HOST = _smtp["EMAIL_HOST"]
    EMAIL_PORT = _smtp["EMAIL_PORT"]
    EMAIL_HOST_USER = _smtp["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _smtp["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = _smtp["EMAIL_USE_TLS"]
    EMAIL_USE_SSL = _smtp["EMAIL_USE_SSL"]
    EMAIL_TIMEOUT = _smtp["EMAIL_TIMEOUT"]
EMAIL_BACKEND = env("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_URL or not DEBUG
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Video Agent Portal <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# django-anymail reads its settings from ANYMAIL: ANYMAIL_MAILGUN_API_KEY=... in the
# environment becomes ANYMAIL["MAILGUN_API_KEY"] (the names of anymail's documentation).
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_")
}

# --- Background work (django-q2) -------------------------------------------------------
REDIS_URL = env("REDIS_URL")
# `manage.py worker` on SIGTERM: running tasks get this long to finish, then are killed (and
# handed out again by the sweeper). Below the 30 s most service managers wait before SIGKILL.
WORKER_STOP_GRACE_SECONDS = env_int("WORKER_STOP_GRACE_SECONDS", 20)
Q_CLUSTER: dict[str, Any] = {
    # The Redis queue is named after it (django_q:<name>:q) and task packages are signed with
    # it: every web and worker host of one site must use the same name. Two sites (or two
    # test runs) sharing one Redis need different names.
    "name": env("Q_CLUSTER_NAME", "portal"),
    "workers": env_int("Q_WORKERS", 2),
    # A task is killed after `timeout` and handed out again after `retry`; retry must be
    # larger so a slow task is never run twice at once. Tasks guard with the job's state.
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    # Successful tasks are not kept: with a limit, django-q2's monitor reads every kept row
    # (under a lock) after each task, which took a third of a worker host's CPU in a burst
    # (docs/benchmarks.md). Failures are still kept; run times go to /metrics.
    "save_limit": -1,
    "catch_up": False,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    # A second lane in front of the queue, for the steps that end a job (videos/queue.py).
    Q_CLUSTER["broker_class"] = "videos.queue.LanedRedis"
else:
    Q_CLUSTER["orm"] = "default"
if Q_CLUSTER["timeout"] >= JOB_SUBMITTING_STUCK_SECONDS:
    # Otherwise the reconciler would requeue a submit whose worker is still waiting on MiniMax.
    raise ImproperlyConfigured("JOB_SUBMITTING_STUCK_SECONDS must exceed the task timeout (120 s)")

# --- Operations: /metrics and error reporting (docs/deploy.md, "Monitoring") -------------
# The bearer token Prometheus sends to /metrics; unset, /metrics answers 404 (off).
METRICS_TOKEN = env("METRICS_TOKEN", "")
# A worker host's exporter: `manage.py worker` serves its host's instruments on this port
# (0: off), bound to METRICS_BIND.
METRICS_PORT = env_int("METRICS_PORT", 0)
METRICS_BIND = env("METRICS_BIND", "127.0.0.1")

# --- Security ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Links out of the portal carry no path (job ids, invitation tokens stay here).
SECURE_REFERRER_POLICY = "same-origin"
# Only for a local production-like try-out that seeds the demo user on purpose
# (DJANGO_SILENCED_SYSTEM_CHECKS=accounts.E001); never in a real deployment.
SILENCED_SYSTEM_CHECKS = env_list("DJANGO_SILENCED_SYSTEM_CHECKS")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Off only for a local try-out over plain http (make run-prod-like).
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")


# Content-Security-Policy (django-csp): scripts only from our own static files, never inline
# (data for them comes as `json_script` blocks); no plugins, no framing, forms post here only.
# Stored videos and images may be redirects to signed links of the bucket: its origin is
# allowed for media and images (CSP_MEDIA_ORIGINS adds others, e.g. a CDN in front of it).
def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_STORAGE_ORIGINS = (
    ([_origin(S3_ENDPOINT_URL)] if S3_ENDPOINT_URL else ["https://*.amazonaws.com"])
    if S3_BUCKET
    else []
) + env_list("CSP_MEDIA_ORIGINS")
_SSO_ORIGINS = [
    _origin(app["settings"]["server_url"])
    for provider in SOCIALACCOUNT_PROVIDERS.values()
    for app in provider.get("APPS", [])
    if app.get("settings", {}).get("server_url")
] + env_list("CSP_FORM_ACTION_ORIGINS")
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Stylesheets only from our static files. Inline style *attributes* are allowed (not
        # <style> elements): the progress and quota bars (videos/job_detail.html,
        # billing/usage.html) set their width with style="width: N%", from numbers the
        # server computed. An attribute can carry no selector or script, so this allows no
        # style injection that reads the page. The SVG charts (billing/charts.py) use
        # presentation attributes (fill=), which CSP does not restrict.
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        # data: for the TOTP QR code (allauth renders it as an SVG data URL) and the icons
        # of the API docs' stylesheet.
        "img-src": ["'self'", "data:", *_STORAGE_ORIGINS],
        "media-src": ["'self'", *_STORAGE_ORIGINS],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        # A sign-in through single sign-on posts here and is redirected to the identity
        # provider, which form-action covers too: its origin (OIDC server_url, or
        # CSP_FORM_ACTION_ORIGINS for SAML and the rest) is allowed.
        "form-action": ["'self'", *_SSO_ORIGINS],
        "frame-ancestors": ["'none'"],
    },
}

# --- Logging ----------------------------------------------------------------------------
# Secrets are redacted from every line (portal/logging.py). Production writes one JSON object
# per line (time, level, logger, message, job_id, trace_id) for the log collector.
LOG_FORMAT = env("LOG_FORMAT", "plain" if DEBUG else "json")
# One line per request (method, path with tokens redacted, status, duration, trace id).
LOG_REQUESTS = env_bool("LOG_REQUESTS", not DEBUG)
LOGGING = logging_config(json_lines=LOG_FORMAT == "json", level=env("LOG_LEVEL", "INFO"))

# --- Error reporting (optional) ---------------------------------------------------------
# SENTRY_DSN sends unhandled errors to Sentry, scrubbed (portal/sentry.py); unset: nothing.
SENTRY_DSN = env("SENTRY_DSN", "")
if SENTRY_DSN:
    from portal import sentry

    sentry.init(
        SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", "development" if DEBUG else "production"),
        release=env("SENTRY_RELEASE", ""),
    )
