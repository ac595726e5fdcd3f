"""ConflictWatch settings, read from the environment (see .env.example).

With nothing set it runs as a self-contained demo: DEBUG on, SQLite in the project folder and
tasks run in-process after each commit, so one command gives a working dashboard. Production
sets DEBUG=false, SECRET_KEY, DATABASE_URL (Postgres), CELERY_BROKER_URL and CACHE_URL (Redis)
and runs real Celery workers and beat; .env.example holds the production values, and
`manage.py check --deploy` is clean with them. A malformed value fails here, at start-up, rather
than on the first request.
"""

import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

# NAME_FILE is read in place of NAME (Docker secrets, e.g. SECRET_KEY_FILE=/run/secrets/key).
env = environ.FileAwareEnv()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off ConflictWatch will not start without a "
            "secret key of its own: set SECRET_KEY (or SECRET_KEY_FILE) in the environment or "
            "in .env, for example to the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    # DEBUG on (the demo, a developer's machine): a key for this process only, never one
    # written in the code, so a forgotten setting cannot make sessions forgeable.
    SECRET_KEY = get_random_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. Off by default so that the demo and a first try on http://localhost work; production
# turns them on (.env.example) and `check --deploy` says when one is missing.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers and container health checks probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# Behind a proxy that terminates TLS: the header it sets and the value meaning HTTPS, e.g.
# HTTP_X_FORWARDED_PROTO,https. Only set it when the proxy overwrites that header (ours does).
_proxy_ssl_header = env.tuple("SECURE_PROXY_SSL_HEADER", default=())
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER must be a header and a value, e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "monitor",
    "monitor.alerts",
    "ingest",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "monitor.telemetry.middleware.IngestAnswersMiddleware",
    "monitor.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "monitor.urls"
WSGI_APPLICATION = "monitor.wsgi.application"

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
            ],
        },
    },
]


def _database(url: str) -> dict:
    """Django's settings for the database at `url`, with our connection options."""
    database = env.db_url_config(url)
    database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    database["CONN_HEALTH_CHECKS"] = True
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        return database
    options = database.setdefault("OPTIONS", {})
    options.setdefault("connect_timeout", 5)
    # Postgres's JIT compiles plans for large row estimates over many partitions; our queries
    # are short and indexed, and compiling cost them ~100 ms each. Prepared statements (only
    # ingest/prepared.py's) keep one generic plan: a custom plan re-plans the partitioned raw
    # table at every run, which cost more than running the statement. No parallel workers:
    # starting them cost a dashboard query more (10-20 ms) than they saved on a few cores.
    options.setdefault(
        "options",
        "-c jit=off -c plan_cache_mode=force_generic_plan -c max_parallel_workers_per_gather=0",
    )
    # Statements of ingest/prepared.py are prepared after this many runs on a connection
    # (Django's own queries bind on the client and never are); None prepares nothing.
    options.setdefault(
        "prepare_threshold",
        2 if env.bool("CONFLICTWATCH_PREPARED_STATEMENTS", default=True) else None,
    )
    return database


# SQLite by default so that `make run` works on a bare machine; Postgres in production.
DATABASES = {
    "default": _database(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'conflictwatch.sqlite3'}"
    )
}
# The rollups' covering indexes (INCLUDE columns, for Postgres's index-only scans) are plain
# indexes on SQLite, which is all it needs; its warning for each would greet every migrate.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
# A streaming replica of DATABASE_URL: pages and API GETs read raw requests and rollups there
# (monitor/ops/routers.py); writes, ingest, aggregation and alerts stay on the primary.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = _database(DATABASE_REPLICA_URL)
    # Tests run the replica as the primary itself: no second test database.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["monitor.ops.routers.ReplicaRouter"]
    MIDDLEWARE.append("monitor.ops.routers.ReplicaReadsMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Chart.js is installed from the npm registry; serve it from node_modules, never a CDN. Only
# the packages the pages load are served (node_modules also holds the test servers).
for _package in ("chart.js", "chartjs-chart-matrix"):
    if (BASE_DIR / "node_modules" / _package).exists():
        STATICFILES_DIRS.append((f"vendor/{_package}", BASE_DIR / "node_modules" / _package))
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Email: EMAIL_URL such as smtp://127.0.0.1:2525; the console in the demo.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="conflictwatch@localhost")

# Celery. No broker configured: tasks run in-process (the demo's embedded mode).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CONFLICTWATCH_EMBEDDED_TASKS = not CELERY_BROKER_URL
if CONFLICTWATCH_EMBEDDED_TASKS:
    # In-process tasks still take a producer of this transport; with a host named, kombu does
    # not warn "No hostname was supplied" on every batch.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = CONFLICTWATCH_EMBEDDED_TASKS
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acknowledged within this time is delivered again (acks_late); the sweep
    # below picks up a batch whose worker died long before that.
    "visibility_timeout": 3600,
}
# Ingest must answer fast even with the broker down: give up publishing quickly (the batch is
# committed already and the sweep aggregates it).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Pending batches older than this are aggregated by the sweep (beat, every minute).
CONFLICTWATCH_SWEEP_AFTER_SECONDS = env.float("CONFLICTWATCH_SWEEP_AFTER_SECONDS", default=30.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "monitor.api.auth.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "monitor.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["monitor.api.throttles.TokenRateThrottle"],
}
# API calls per token (per user for browser sessions), e.g. "600/min", "50/s"; empty: no limit.
CONFLICTWATCH_API_RATE = env.str("CONFLICTWATCH_API_RATE", default="600/min")
# Most rows one CSV export (export/requests.csv) writes; narrow the range for more.
CONFLICTWATCH_EXPORT_MAX_ROWS = env.int("CONFLICTWATCH_EXPORT_MAX_ROWS", default=100_000)
# The cache holds the API rate-limit counters: local memory (per process) by default; with more
# than one web process set CACHE_URL=redis://host:6379/1 so that they share one count
# (`check --deploy` warns without it, monitor/ops/checks.py).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
SPECTACULAR_SETTINGS = {
    "TITLE": "ConflictWatch API",
    "DESCRIPTION": "Request counts, latency and HTTP 409 Conflict analysis per project.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # What the URL converters accept, so that clients (and schemathesis) know a slug's alphabet.
    "PATH_CONVERTER_OVERRIDES": {
        "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
        "int": {"type": "integer", "minimum": 0},
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "monitor.api.errors.document_errors",
    ],
}

# ConflictWatch's own settings.
CONFLICTWATCH_BASE_URL = env.str("CONFLICTWATCH_BASE_URL", default="http://127.0.0.1:8000")
CONFLICTWATCH_MAX_BODY_BYTES = env.int("CONFLICTWATCH_MAX_BODY_BYTES", default=20 * 1024 * 1024)
CONFLICTWATCH_MAX_PENDING_BATCHES = env.int("CONFLICTWATCH_MAX_PENDING_BATCHES", default=1000)
CONFLICTWATCH_MAX_RANGE_DAYS = env.int("CONFLICTWATCH_MAX_RANGE_DAYS", default=400)
CONFLICTWATCH_RAW_RETENTION_DAYS = env.int("CONFLICTWATCH_RAW_RETENTION_DAYS", default=14)
CONFLICTWATCH_ROLLUP_RETENTION_DAYS = env.int("CONFLICTWATCH_ROLLUP_RETENTION_DAYS", default=35)
# A record older than this (or more than a day ahead) is rejected per record (ingest/time_bounds.py).
CONFLICTWATCH_MAX_RECORD_AGE_DAYS = env.int(
    "CONFLICTWATCH_MAX_RECORD_AGE_DAYS", default=CONFLICTWATCH_RAW_RETENTION_DAYS
)
if CONFLICTWATCH_MAX_RECORD_AGE_DAYS < 1:
    raise environ.ImproperlyConfigured("CONFLICTWATCH_MAX_RECORD_AGE_DAYS must be at least 1")
CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS = env.float(
    "CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS", default=1.0
)
if not 0.0 <= CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS <= 1.0:
    raise environ.ImproperlyConfigured("CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS must be within 0-1")
# Alerts (monitor/alerts/): hysteresis, anomaly baseline, and mail delivery with retries.
# An incident resolves only when its value falls below threshold x this factor.
ALERTS_RESOLVE_FACTOR = env.float("ALERTS_RESOLVE_FACTOR", default=0.8)
ALERTS_ANOMALY_BASELINE_DAYS = env.int("ALERTS_ANOMALY_BASELINE_DAYS", default=7)
ALERTS_ANOMALY_MIN_DAYS = env.int("ALERTS_ANOMALY_MIN_DAYS", default=3)
ALERTS_ANOMALY_RATE_FLOOR = env.float("ALERTS_ANOMALY_RATE_FLOOR", default=0.01)
ALERTS_RETRY_BASE_SECONDS = env.float("ALERTS_RETRY_BASE_SECONDS", default=60.0)
ALERTS_RETRY_MAX_SECONDS = env.float("ALERTS_RETRY_MAX_SECONDS", default=3600.0)
ALERTS_MAX_ATTEMPTS = env.int("ALERTS_MAX_ATTEMPTS", default=12)
ALERTS_SEND_LEASE_SECONDS = env.float("ALERTS_SEND_LEASE_SECONDS", default=300.0)
ALERTS_SMTP_TIMEOUT = env.float("ALERTS_SMTP_TIMEOUT", default=30.0)
# Seconds a webhook or Slack POST may take to connect, send, or wait for each read.
ALERTS_WEBHOOK_TIMEOUT = env.float("ALERTS_WEBHOOK_TIMEOUT", default=10.0)
# Webhook and Slack messages go to public addresses only; these networks (CIDR, comma-separated,
# e.g. an internal alert router's 10.20.0.0/16) are allowed besides (monitor/alerts/destinations.py).
ALERTS_WEBHOOK_ALLOWED_NETWORKS = env.list("ALERTS_WEBHOOK_ALLOWED_NETWORKS", default=[])
for _network in ALERTS_WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise environ.ImproperlyConfigured(
            f"ALERTS_WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network (e.g. 10.20.0.0/16)"
        ) from None
if not 0.0 < ALERTS_RESOLVE_FACTOR <= 1.0:
    raise environ.ImproperlyConfigured("ALERTS_RESOLVE_FACTOR must be above 0 and at most 1")
if ALERTS_SEND_LEASE_SECONDS <= max(ALERTS_SMTP_TIMEOUT, 4 * ALERTS_WEBHOOK_TIMEOUT):
    # A POST may wait for connect, write and read in turn: the lease outlives all of them.
    raise environ.ImproperlyConfigured(
        "ALERTS_SEND_LEASE_SECONDS must exceed ALERTS_SMTP_TIMEOUT and 4 x ALERTS_WEBHOOK_TIMEOUT"
    )

# GET /metrics answers only with `Authorization: Bearer <this>` when set (empty: open; then
# keep /metrics off the public network).
CONFLICTWATCH_METRICS_TOKEN = env.str("CONFLICTWATCH_METRICS_TOKEN", default="")

# Teams (monitor/team/): invitations, sign-up, and sign-in throttled per username and address
# with django-axes (attempts kept in the database, so every web process counts them).
CONFLICTWATCH_INVITATION_DAYS = env.int("CONFLICTWATCH_INVITATION_DAYS", default=7)
# Off: accounts are made only through invitations (or by an operator).
CONFLICTWATCH_OPEN_SIGNUP = env.bool("CONFLICTWATCH_OPEN_SIGNUP", default=False)
CONFLICTWATCH_SIGNIN_FAILURES = env.int("CONFLICTWATCH_SIGNIN_FAILURES", default=10)
CONFLICTWATCH_SIGNIN_LOCK_MINUTES = env.float("CONFLICTWATCH_SIGNIN_LOCK_MINUTES", default=15.0)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, the peer's
# address is the client's).
CONFLICTWATCH_PROXY_COUNT = env.int("CONFLICTWATCH_PROXY_COUNT", default=0)
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = "monitor.team.signin.failure_limit"
AXES_COOLOFF_TIME = "monitor.team.signin.lock_length"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "monitor.team.signin.locked_out"
AXES_CLIENT_IP_CALLABLE = "monitor.team.signin.client_address"
AXES_RESET_ON_SUCCESS = True
# A lock ends when it said it would, however often someone knocks meanwhile.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# Data upload limit for Django's form parsing; ingest reads the body itself with its own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = CONFLICTWATCH_MAX_BODY_BYTES

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task is noise at any rate worth monitoring; failures still show.
        "celery.app.trace": {"level": "WARNING"},
    },
}
