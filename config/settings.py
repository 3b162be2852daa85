"""Vigil's one settings file. Every knob comes from the environment with a safe default.

The README's settings table lists each variable; `.env.example` shows them all.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() not in {"true", "false", "1", "0", "yes", "no"}:
        raise ImproperlyConfigured(f"{name}: expected true/false, got {raw!r}")
    return raw.lower() in {"true", "1", "yes"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# pytest sets PYTEST_VERSION: tests run against PostgreSQL and need no secret of their own.
TESTING = "PYTEST_VERSION" in os.environ
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
# Keys for the secrets Vigil must use in plain form (webhook URLs, signing secrets, ntfy
# tokens, push keys), comma-separated: the first encrypts, all decrypt (escalation.fields).
# Unset: derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env_list("FIELD_ENCRYPTION_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # REST tokens: django-rest-knox, with our per-device model (oncall.ApiToken) swapped in.
    "knox",
    "drf_spectacular",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "config.apps.VigilConfig",
    "oncall",
    "integrations",
    "escalation",
    "incidents",
    "importers",
]

MIDDLEWARE = [
    # Outermost: the request id (X-Request-ID) and one log line per request, 413s included.
    "config.request_log.RequestLogMiddleware",
    # First, so an oversized body is refused before anything reads it.
    "integrations.middleware.BodySizeLimitMiddleware",
    # Before any view: NUL or a lone surrogate in the path, query or a form field is a 400.
    "config.input_guard.RejectUnstorableInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Times on every page in the signed-in person's own zone (their Profile page).
    "oncall.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    # Last: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "incidents.noise.context.flapping_status",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# Embedded default: a SQLite file so `make run` needs no database server.
# Tests, CI and production use PostgreSQL through DATABASE_URL.
(BASE_DIR / "var" / "staticfiles").mkdir(parents=True, exist_ok=True)
DATABASE_URL = env_str(
    "DATABASE_URL",
    "postgres://postgres@127.0.0.1:5432/vigil_test"
    if TESTING
    else f"sqlite:///{BASE_DIR / 'var' / 'vigil.sqlite3'}",
)
# Persistent connections: a new PostgreSQL connection per request costs ~6x ingest throughput.
# Django's psycopg pool (CONN_MAX_AGE=0) was measured instead and cost more CPU per request
# (docs/performance.md, "Tried").
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
if _db["ENGINE"] == "django.db.backends.postgresql":
    _db.setdefault("OPTIONS", {})
    # Fail fast when PostgreSQL is down or locked: the door answers 503 + Retry-After
    # instead of holding the sender's connection open.
    _db["OPTIONS"].setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 2))
    _server_options = [f"-c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT_MS', 5000)}"]
    # Server-side binding with psycopg's prepared statements (a statement is prepared on its
    # connection after 5 runs; Django's default binds in the client and never prepares):
    # PostgreSQL then skips parsing the ingest statements. Always planned for the values at
    # hand (`force_custom_plan`): a generic plan cannot use a partial index whose predicate
    # names a value passed as a parameter (the open alert's `status = 'open'`), and a
    # generic plan chosen on a young table's statistics raised PostgreSQL's CPU per repeat
    # from 0.7 to 2 ms in `make bench`. Measured in one process (docs/performance.md,
    # "Tried"), PostgreSQL CPU per request: repeat 0.88 ms bound in the client, 0.75
    # prepared, 0.66 prepared and custom-planned; new trigger 1.36, 1.04, 0.90. Off behind a
    # transaction-mode pooler that cannot keep named prepared statements (PgBouncer before 1.21).
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        _db["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)
        _server_options.append("-c plan_cache_mode=force_custom_plan")
    _db["OPTIONS"].setdefault("options", " ".join(_server_options))
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # `make run`: web, worker and beat write one file. WAL lets reads run beside the writer;
    # IMMEDIATE transactions wait (timeout) for the write lock instead of failing "database
    # is locked" when a reading transaction tries to write.
    _db.setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, rate limits, flapping, broker ---------------------------
# `make run` on a machine without Redis (the Makefile sets it when REDIS_URL is unset and
# nothing answers on 127.0.0.1:6379): the cache in the database, the Celery broker in files
# under var/celery/, flapping detection off (the portal says so), email to the console.
# Only with DEBUG on and REDIS_URL unset: production never falls back silently.
WITHOUT_REDIS = env_bool("WITHOUT_REDIS", False)
if WITHOUT_REDIS and (not DEBUG or "REDIS_URL" in os.environ):
    raise ImproperlyConfigured("WITHOUT_REDIS is for `make run` only: DEBUG on and REDIS_URL unset")
REDIS_URL = env_str("REDIS_URL", "" if WITHOUT_REDIS else "redis://127.0.0.1:6379/0")
REDIS_SOCKET_TIMEOUT = float(env_str("REDIS_SOCKET_TIMEOUT", "0.2"))
CACHES = {
    "default": {
        # django-redis, not Django's RedisCache: only it can ignore a dead or hung Redis,
        # so the cache's users (the tick's timing, the importer) go on without it. The rate
        # limits, key generation and flapping use config/redis_clients.py on the same URL.
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "vigil",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
        },
    }
}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
# Not logged per call: with Redis down that is an ERROR traceback per cache call.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
DJANGO_REDIS_LOGGER = "vigil.redis"
if WITHOUT_REDIS:
    # `manage.py createcachetable` (in `make run`) makes the table. The rate limits are off
    # without Redis, and a key revoked elsewhere is refused within 1 s (integrations/key_cache.py).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                          "LOCATION": "vigil_cache", "KEY_PREFIX": "vigil"}}

# --- Inbound doors ----------------------------------------------------------
INBOUND_RATE_LIMIT = env_str("INBOUND_RATE_LIMIT", "120/m")
INBOUND_RATE_LIMIT_PER_KEY = env_str("INBOUND_RATE_LIMIT_PER_KEY", "")
INBOUND_RATE_LIMIT_EXEMPT = env_list("INBOUND_RATE_LIMIT_EXEMPT", "")
INBOUND_TRUSTED_PROXIES = env_list("INBOUND_TRUSTED_PROXIES", "")
# Requests whose key does not authenticate, per client IP; past it they answer 429 (T51).
INBOUND_FAILED_AUTH_LIMIT = env_str("INBOUND_FAILED_AUTH_LIMIT", "30/m")
INBOUND_MAX_BODY_BYTES = env_int("INBOUND_MAX_BODY_BYTES", 512 * 1024)
# A named heartbeat (Opsgenie's pings) created by its first ping gets this interval.
NAMED_HEARTBEAT_INTERVAL_SECONDS = env_int("NAMED_HEARTBEAT_INTERVAL_SECONDS", 600)
INBOUND_RETENTION_DAYS = env_int("INBOUND_RETENTION_DAYS", 90)
# Incidents per cleanup transaction (bench/retention.py measured the default: docs/operations.md).
CLEANUP_BATCH_SIZE = env_int("CLEANUP_BATCH_SIZE", 2000)
DATA_UPLOAD_MAX_MEMORY_SIZE = INBOUND_MAX_BODY_BYTES + 1024

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A hung or dead broker must not hold a request: short socket timeouts and no publish
# retries. The database holds every pending step, so a lost publish costs one beat tick.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Measured (tests/reliability, T07/T08): a hung Redis costs a publish one socket timeout
    # per try, and a dead one cost 2 s (kombu's pause before its connection retry). One try,
    # 0.25 s: escalation/dispatch.py then stops publishing for a few seconds, and the tick
    # sends what was not enqueued.
    "socket_timeout": 0.25,
    "socket_connect_timeout": 0.25,
    "max_retries": 0,
    "visibility_timeout": 3600,
}
CELERY_TASK_PUBLISH_RETRY = False
if WITHOUT_REDIS:
    # kombu's filesystem transport: no package and no server; web, worker and beat share
    # the folders (file locks), which SQLite under three writing processes would not do as well.
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
    _celery_dir = Path(env_str("BROKER_FILES_DIR", str(BASE_DIR / "var" / "celery")))
    for _name in ("queue", "control"):
        (_celery_dir / _name).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "control_folder": str(_celery_dir / "control"),
    }
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Task modules outside an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["incidents.noise.tasks"]

# --- Noise reduction (incidents/noise/) -------------------------------------------
# A compiled suppression rule set is reused this long per process (dropped at once on save).
SUPPRESSION_RULES_CACHE_SECONDS = env_int("SUPPRESSION_RULES_CACHE_SECONDS", 5)
# More than FLAPPING_THRESHOLD state changes of one alert within the window = flapping.
FLAPPING_THRESHOLD = env_int("FLAPPING_THRESHOLD", 5)
FLAPPING_WINDOW_SECONDS = env_int("FLAPPING_WINDOW_SECONDS", 600)
FLAPPING_REDIS_URL = env_str("FLAPPING_REDIS_URL", REDIS_URL)

# --- Escalation and notifications ---------------------------------------------
ESCALATION_TICK_SECONDS = env_int("ESCALATION_TICK_SECONDS", 60)
ACK_LINK_MAX_AGE_SECONDS = env_int("ACK_LINK_MAX_AGE_SECONDS", 24 * 3600)
# How long one "minute" of a step or rule delay lasts: 60; the real-worker test shortens it.
ESCALATION_DELAY_UNIT_SECONDS = env_int("ESCALATION_DELAY_UNIT_SECONDS", 60)
# /health/escalation answers 503 when the last tick is older than this (0: 3 ticks).
ESCALATION_HEALTH_MAX_AGE_SECONDS = env_int("ESCALATION_HEALTH_MAX_AGE_SECONDS", 0)

# /metrics (config/metrics.py): off (404) unless a token or an address allow-list is set.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_CIDRS = env_list("METRICS_ALLOWED_CIDRS", "")
METRICS_WINDOW_SECONDS = env_int("METRICS_WINDOW_SECONDS", 3600)
# Test-only: moves the database clock the escalation engine reads (escalation.clock).
ESCALATION_CLOCK_OFFSET_SECONDS = 0
# Test-only: lets escalation/failpoints.py kill or pause a worker at a named place
# (FAILPOINT, FAILPOINT_SLEEP). Only the tests that start real workers turn it on.
FAILPOINTS_ENABLED = env_bool("FAILPOINTS_ENABLED", False)
# Outgoing webhooks may only reach public addresses; tests with a loopback server set this.
ESCALATION_WEBHOOK_ALLOW_PRIVATE = env_bool("ESCALATION_WEBHOOK_ALLOW_PRIVATE", False)
ESCALATION_WEBHOOK_TIMEOUT_SECONDS = env_int("ESCALATION_WEBHOOK_TIMEOUT_SECONDS", 10)
NOTIFICATION_MAX_RETRIES = env_int("NOTIFICATION_MAX_RETRIES", 3)
NOTIFICATION_RETRY_BASE_SECONDS = env_int("NOTIFICATION_RETRY_BASE_SECONDS", 10)
# A pending notification whose task was enqueued this long ago is handed to the broker again.
NOTIFICATION_RESEND_GRACE_SECONDS = env_int("NOTIFICATION_RESEND_GRACE_SECONDS", 120)
ONCALL_CALENDAR_WEEKS = env_int("ONCALL_CALENDAR_WEEKS", 8)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "vigil@localhost")
if WITHOUT_REDIS and "EMAIL_BACKEND" not in os.environ and "EMAIL_HOST" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # pages print in the worker
# Web Push (the portal installed as an app). All three or the kind is hidden. The public
# key as `vapid --applicationServerKey` prints it; the private key as the body of the PEM
# `vapid --gen` writes, on one line (or a raw key in base64url). The private key never
# leaves this process (not in pages, logs or API answers).
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "")  # mailto:ops@example.com or https://... (RFC 8292)
# ntfy: the access token used for topics whose contact method has none of its own.
NTFY_TOKEN = env_str("NTFY_TOKEN", "")

# SMS and voice through Twilio. Without the account SID, the auth token and a sender (a
# from-number, or for SMS a messaging service) the sms and voice kinds are hidden. The API
# base URL is Twilio's; tests and self-hosted gateways that speak its REST API point it
# elsewhere. Voice calls need TWILIO_FROM_NUMBER (a messaging service only sends texts).
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "https://api.twilio.com").rstrip("/")
TWILIO_TIMEOUT_SECONDS = env_int("TWILIO_TIMEOUT_SECONDS", 10)
# --- Slack app channel (escalation/channels/slack.py) -----------------------------
# The bot token (xoxb-...) and the app's signing secret; either one empty hides the kind.
SLACK_BOT_TOKEN = env_str("SLACK_BOT_TOKEN", "")
SLACK_SIGNING_SECRET = env_str("SLACK_SIGNING_SECRET", "")
# Slack's Web API; tests point it at a local fake.
SLACK_API_BASE_URL = env_str("SLACK_API_BASE_URL", "https://slack.com/api/")
SLACK_TIMEOUT_SECONDS = env_int("SLACK_TIMEOUT_SECONDS", 10)

# --- REST -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Authorization: Token <token>`, as DRF's own scheme: scripts keep their header.
        "oncall.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # JSON refuses NUL and lone surrogates, naming the field (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.StorableJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# REST API tokens (oncall/tokens.py): digests only, per device, each with an expiry. A token
# that never expires is made only on request (`manage.py api_token create --never-expires`).
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90)
KNOX_TOKEN_MODEL = "oncall.ApiToken"
# knox's own migrations would create its (swapped-out, unused) knox_authtoken table, whose
# foreign key to auth_user then blocks `flush`; without them no knox table is made.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
    "TOKEN_TTL": timedelta(days=API_TOKEN_TTL_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# Team invitations (oncall/invitations.py): how long an emailed link can be accepted.
TEAM_INVITATION_DAYS = env_int("TEAM_INVITATION_DAYS", 7)
SPECTACULAR_SETTINGS = {
    "TITLE": "Vigil",
    "DESCRIPTION": "Incident hub: ingest doors for alert sources and a REST API for people.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` or `severity`: name each choice set after its owner.
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "incidents.models.Severity",
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "AlertStatusEnum": "incidents.models.Alert.Status",
        "NotificationStatusEnum": "escalation.models.Notification.Status",
        "AlertmanagerAlertStatusEnum": ["firing", "resolved"],
    },
}

# --- Auth, sessions, security headers ----------------------------------------------
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
AUTHENTICATION_BACKENDS = [
    "config.login_lockout.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in lockout (django-axes): N failures for one user name from one address lock that
# pair out for the cool-off. The address is the one the rate limiter trusts (socket
# address, or X-Forwarded-For only behind INBOUND_TRUSTED_PROXIES), so a forged header
# does not reset the count.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 3)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "integrations.ratelimit.client_ip"
AXES_USERNAME_CALLABLE = "config.login_lockout.attempted_username"  # cut to 150 characters
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not (DEBUG or TESTING))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if INBOUND_TRUSTED_PROXIES else None
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# `manage.py collectstatic` writes here; whitenoise serves it when DEBUG is off.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # htmx from the npm registry (package.json; `make run`/`make test` run `npm ci`), served
    # as /static/htmx/htmx.min.js: never copied into the repository, never from a CDN.
    ("htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# text (the default, for `make run`) or json: one JSON object per line (production).
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT: expected text or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One redaction rule for every line (config/redaction.py); it also adds the request id.
    "filters": {"redact_keys": {"()": "config.redaction.RedactFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_keys"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request logger prints paths, and some doors carry the key in the path.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "vigil.redis": {"level": "ERROR"},
        # django-axes logs every failed sign-in at INFO; the lockouts (WARNING) are what matter.
        "axes": {"level": "WARNING"},
        # twilio's client logs every request's URL and headers at INFO (never the auth header).
        "twilio.http_client": {"level": "WARNING"},
        # httpx and urllib3 print whole request URLs (a webhook path, a push endpoint, an ntfy
        # topic are secrets): they log at LOG_LEVEL through the redaction filter, which keeps
        # only scheme and host (RELIABILITY T46). httpcore's DEBUG trace is noise only.
        "httpcore": {"level": "WARNING"},
        # apprise logs the URLs and payloads it sends; the apprise channel reads what it
        # needs (the HTTP status) from a capture and puts the outcome on the timeline.
        "apprise": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}
