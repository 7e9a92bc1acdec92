"""Recapture settings.

Every value is read from the environment through django-environ, with embedded
defaults (SQLite database, django-q2 ORM broker) so that `make run` works on a fresh
machine. Production is switched on by `DJANGO_DEBUG=false` plus real secrets; see
`.env.example` for every variable.
"""

from pathlib import Path

import environ

from config.settings.parsing import BlankIsDefaultEnv, is_loopback_only, parse_limits

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# An empty value (`DJANGO_SECRET_KEY=` in a copied .env.example) means "use the default".
env = BlankIsDefaultEnv()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
_DEV_SECRET = "dev-insecure-secret-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# host:port of `make run` (bin/run-dev); the default public URL, the demo's origins and printed links follow it.
RUN_ADDR = env.str("RUN_ADDR", default="127.0.0.1:8000")
# Public base URL of this deployment, used to build webhook URLs and pixel snippets.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=f"http://{RUN_ADDR}").rstrip("/")
# The constant development secret (and the field key derived from a secret) are for development on
# loopback only: a deployment that answers to any other host name must bring its own (SECURITY.md).
LOOPBACK_DEVELOPMENT = DEBUG and is_loopback_only(ALLOWED_HOSTS)
if SECRET_KEY == _DEV_SECRET and not LOOPBACK_DEVELOPMENT:
    raise environ.ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set: the built-in development secret is public and only allowed with "
        "DJANGO_DEBUG=true and loopback DJANGO_ALLOWED_HOSTS (127.0.0.1, localhost)"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "config",
    "events",
    "identity",
    "destinations",
    "returns",
    "shopify",
    "pipeline",  # the top layer: wires the apps above (README, "Layers")
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.logging.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + immediate transactions let the web process and the worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "config.postgresql"  # health checks without a round trip
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("DATABASE_TEST_NAME", default="test_recapture")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, token buckets): shared by every process. ------------------
# Redis when REDIS_URL is set; otherwise a database table (created by `createcachetable`).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.SharedClientRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": env.cache("CACHE_URL", default="dbcache://recapture_cache")}

# --- Task queue (django-q2). ORM broker by default, Redis with Q_BROKER=redis. ---
Q_BROKER = env.str("Q_BROKER", default="orm")
Q_CLUSTER = {
    "name": "recapture",
    "workers": env.int("Q_WORKERS", default=2),
    "recycle": 500,
    # Retries are our data (Delivery rows), never django-q2 redelivery.
    "timeout": env.int("Q_TIMEOUT", default=60),
    "retry": env.int("Q_RETRY", default=90),
    "max_attempts": 1,
    "ack_failures": True,
    # -1: successful task results are not stored (failures are). Storing them costs a locked read of
    # every stored success plus a delete and an insert per task: ~100 tasks/s per cluster instead of ~800.
    # What a task did is our own data (processed_at, Delivery, DeliveryAttempt).
    "save_limit": env.int("Q_SAVE_LIMIT", default=-1),
    "catch_up": False,
    "poll": env.float("Q_POLL", default=0.1),
    "sync": env.bool("Q_SYNC", default=False),
    "label": "Task queue",
}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = env.str("Q_REDIS_URL", default=REDIS_URL or "redis://127.0.0.1:6379/0")
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth / i18n / static ------------------------------------------------------
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
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- REST framework / OpenAPI ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Recapture API",
    "DESCRIPTION": "Pixel ingest and Loop Returns webhooks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Redoc from drf-spectacular-sidecar's static files (pinned in requirements.txt), never a CDN.
    "REDOC_DIST": "SIDECAR",
}

# --- Secrets at rest -------------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt (MultiFernet rotation).
# In development a key is derived from SECRET_KEY so `make run` needs no set-up.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    raise environ.ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DJANGO_DEBUG=false")
if not FIELD_ENCRYPTION_KEYS and not LOOPBACK_DEVELOPMENT:
    raise environ.ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS must be set: a key derived from the secret is only allowed with DJANGO_DEBUG=true "
        "and loopback DJANGO_ALLOWED_HOSTS (127.0.0.1, localhost)"
    )

# --- Ingest --------------------------------------------------------------------------
INGEST_MAX_BATCH_EVENTS = env.int("INGEST_MAX_BATCH_EVENTS", default=500)
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=512 * 1024)
INGEST_MAX_FUTURE_SECONDS = env.int("INGEST_MAX_FUTURE_SECONDS", default=24 * 3600)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
# Requests per minute per client IP (hard: 429 + Retry-After past it) and per write key (a soft
# quota: over it, sources above INGEST_RATE_LIMIT_SHED_PER_IP a minute are refused, shoppers are
# not; past INGEST_RATE_LIMIT_KEY_CEILING x the quota everything is). 0 disables. docs/SECURITY.md.
INGEST_RATE_LIMIT_PER_KEY = env.int("INGEST_RATE_LIMIT_PER_KEY", default=6000)
INGEST_RATE_LIMIT_PER_IP = env.int("INGEST_RATE_LIMIT_PER_IP", default=1200)
INGEST_RATE_LIMIT_SHED_PER_IP = env.int("INGEST_RATE_LIMIT_SHED_PER_IP", default=120)
INGEST_RATE_LIMIT_KEY_CEILING = env.int("INGEST_RATE_LIMIT_KEY_CEILING", default=10)
# Each web process adds its counts to the shared counters at most this often (0: every request).
INGEST_RATE_LIMIT_SYNC_SECONDS = env.float("INGEST_RATE_LIMIT_SYNC_SECONDS", default=1.0)
# Seconds each web process remembers a write key -> merchant lookup (0: query every request).
# A key rotated or a merchant deactivated elsewhere is refused by every process within this.
INGEST_MERCHANT_CACHE_SECONDS = env.int("INGEST_MERCHANT_CACHE_SECONDS", default=10)
# Reverse proxies in front of the app; 0 means the client IP is REMOTE_ADDR (X-Forwarded-For ignored).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Seconds between a web process's writes of its ingest-problem tallies (console: Ingest problems) to the
# shared cache; the first problem of a merchant-hour is written at once (0: every problem).
INGEST_PROBLEMS_FLUSH_SECONDS = env.float("INGEST_PROBLEMS_FLUSH_SECONDS", default=1.0)
# Stored events still unprocessed after this many seconds are queued again (lost task safety net).
EVENT_REQUEUE_AFTER_SECONDS = env.int("EVENT_REQUEUE_AFTER_SECONDS", default=120)

# --- Admin login throttling (config.request_limits.LoginThrottleBackend) ---------------------
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)  # failures per IP + username; 0 disables
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
# Attempts per username from any address within a lockout window (guesses spread over IPs); 0 disables.
LOGIN_USERNAME_FAILURE_LIMIT = env.int("LOGIN_USERNAME_FAILURE_LIMIT", default=20)
AUTHENTICATION_BACKENDS = ["config.request_limits.LoginThrottleBackend"]
# Admin messages live in the (database) session, not in a cookie: the "shown once" webhook
# secret travels in a message, and the messages cookie is signed, not encrypted.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Mount the benchmark-only endpoints (/bench/ceiling, see bench/endpoints.py). Never in production.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)

# Most extra unprocessed events one processing task takes along (0 = only its own): at peak one
# task resolves and schedules a batch instead of each single-event task paying for itself.
EVENTS_PROCESS_COALESCE = env.int("EVENTS_PROCESS_COALESCE", default=500)

# --- Identity resolution -------------------------------------------------------------
# Click ids (gclid, fbclid, _kx, ...) link sessions only within this many days of each other.
IDENTITY_CLICK_ID_WINDOW_DAYS = env.int("IDENTITY_CLICK_ID_WINDOW_DAYS", default=30)
# Most identifiers of one type a profile may hold; a merge or attach past it is refused and logged.
# Format: type=N pairs separated by commas (or semicolons), e.g. "email=5,phone=5"; unnamed types keep the default.
IDENTITY_IDENTIFIER_LIMITS = parse_limits(
    env.str("IDENTITY_IDENTIFIER_LIMITS", default=""),
    default={
        "email": 5,
        "phone": 5,
        "shopify_customer_id": 5,
        "external_id": 5,
        "anonymous_id": 100,
        "client_id": 100,
        "fbp": 100,
    },
)
# Region used to read phone numbers written without a +country prefix.
IDENTITY_DEFAULT_PHONE_REGION = env.str("IDENTITY_DEFAULT_PHONE_REGION", default="US")
# A session is one device's events with gaps of at most this many minutes. On a shared device
# (identified by two different people) anonymous events are attributed only within the
# session of an explicit identification.
IDENTITY_SESSION_GAP_MINUTES = env.int("IDENTITY_SESSION_GAP_MINUTES", default=30)
# Laptop and desktop browsers (OS family from the user agent) are treated as shared: attributed
# only within an identification's session, since a household's computer is used by several
# people before anyone can tell (bench/identity_sim.py: all wrong-person sends left without it).
IDENTITY_DESKTOP_SESSIONS_ONLY = env.bool("IDENTITY_DESKTOP_SESSIONS_ONLY", default=True)
# An ad click id (fbclid, gclid, ttclid...) links a second browser only when it is first seen in
# an in-app browser and then on the same network prefix and OS family within this window. "Open in
# browser" takes seconds; a housemate opening a shared link on the home wifi with the same OS can
# be minutes away (bench/identity_sim.py: 60 min let such links through, 5 min none).
IDENTITY_HANDOFF_WINDOW_MINUTES = env.int("IDENTITY_HANDOFF_WINDOW_MINUTES", default=5)
# The client hint (keyed hash of the network prefix + OS family) is blanked after this many hours.
IDENTITY_CLIENT_HINT_RETENTION_HOURS = env.int("IDENTITY_CLIENT_HINT_RETENTION_HOURS", default=24)
# New anonymous profiles (no email / phone) per merchant per hour; past it such events stay
# anonymous without a profile and the console shows an alert (docs/SECURITY.md). 0 disables.
IDENTITY_MAX_NEW_PROFILES_PER_HOUR = env.int("IDENTITY_MAX_NEW_PROFILES_PER_HOUR", default=50_000)

# --- Destinations ------------------------------------------------------------------
KLAVIYO_API_URL = env.str("KLAVIYO_API_URL", default="https://a.klaviyo.com").rstrip("/")
KLAVIYO_API_REVISION = env.str("KLAVIYO_API_REVISION", default="2026-07-15")
# Klaviyo's answer to "who clicked this _kx" (Get Profiles, scope profiles:read) is cached this long.
KLAVIYO_KX_CACHE_SECONDS = env.int("KLAVIYO_KX_CACHE_SECONDS", default=86400)
# Klaviyo "Active on Site" (Destination.active_on_site): a page view starts a new visit, and is
# sent, only after this many minutes without a page view of the same browser or person.
KLAVIYO_ACTIVE_ON_SITE_GAP_MINUTES = env.int("KLAVIYO_ACTIVE_ON_SITE_GAP_MINUTES", default=30)
LOOPS_API_URL = env.str("LOOPS_API_URL", default="https://app.loops.so").rstrip("/")
LOOP_RETURNS_API_URL = env.str("LOOP_RETURNS_API_URL", default="https://api.loopreturns.com").rstrip("/")
# Digests of deleted webhooks are kept this long (a replay stays a duplicate), and a payload
# whose own newest time is older than LOOP_WEBHOOK_MAX_AGE_DAYS is refused (0 disables).
LOOP_WEBHOOK_DIGEST_RETENTION_DAYS = env.int("LOOP_WEBHOOK_DIGEST_RETENTION_DAYS", default=400)
LOOP_WEBHOOK_MAX_AGE_DAYS = env.int("LOOP_WEBHOOK_MAX_AGE_DAYS", default=365)

# --- Shopify webhooks (shopify app) --------------------------------------------------
SHOPIFY_ADMIN_API_VERSION = env.str("SHOPIFY_ADMIN_API_VERSION", default="2025-10")
# A delivery triggered longer ago than this (Shopify retries for 48 h) is stored but not forwarded.
SHOPIFY_WEBHOOK_MAX_AGE_HOURS = env.int("SHOPIFY_WEBHOOK_MAX_AGE_HOURS", default=72)
# How far back an order looks for the pixel session that carried its checkout or cart token.
SHOPIFY_SESSION_JOIN_DAYS = env.int("SHOPIFY_SESSION_JOIN_DAYS", default=7)
# Days a processed Shopify webhook body (it holds PII) is kept before the daily prune.
SHOPIFY_WEBHOOK_RETENTION_DAYS = env.int("SHOPIFY_WEBHOOK_RETENTION_DAYS", default=30)
# Days a checkout's recovery URL (checkouts/create, checkouts/update) is kept after its last update.
SHOPIFY_CHECKOUT_RETENTION_DAYS = env.int("SHOPIFY_CHECKOUT_RETENTION_DAYS", default=30)
# On a store that sends checkout webhooks, a Started Checkout whose recovery URL is not known yet
# is delivered this many seconds later (the sweeper picks it up), so the webhook lands first. 0: never.
SHOPIFY_CHECKOUT_URL_WAIT_SECONDS = env.int("SHOPIFY_CHECKOUT_URL_WAIT_SECONDS", default=60)

# --- Delivery engine (destinations app) ---------------------------------------------
# Retries: base * factor^(n-1) seconds, capped, +/- jitter; the defaults span ~24 h over 10 attempts.
DELIVERY_RETRY_BASE_SECONDS = env.float("DELIVERY_RETRY_BASE_SECONDS", default=60.0)
DELIVERY_RETRY_FACTOR = env.float("DELIVERY_RETRY_FACTOR", default=3.0)
DELIVERY_RETRY_CAP_SECONDS = env.float("DELIVERY_RETRY_CAP_SECONDS", default=6 * 3600.0)
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=10)
DELIVERY_RETRY_JITTER = env.float("DELIVERY_RETRY_JITTER", default=0.2)
DELIVERY_BATCH_SIZE = env.int("DELIVERY_BATCH_SIZE", default=200)  # deliveries claimed per batch
DELIVERY_THREADS = env.int("DELIVERY_THREADS", default=16)  # concurrent requests per worker
# The per-event fast-path task sends every due delivery of the destination, not only its own:
# at peak one task drains the backlog in batches instead of one claim/send/record per event.
DELIVERY_COALESCE = env.bool("DELIVERY_COALESCE", default=True)
DELIVERY_BULK_THRESHOLD = env.int("DELIVERY_BULK_THRESHOLD", default=50)  # due Klaviyo rows -> bulk job
# Below the threshold, what the per-event budget cannot cover right now goes as a bulk job at once.
DELIVERY_BULK_OVERFLOW = env.bool("DELIVERY_BULK_OVERFLOW", default=True)
DELIVERY_TASK_BUDGET_SECONDS = env.float("DELIVERY_TASK_BUDGET_SECONDS", default=40.0)  # < Q_TIMEOUT
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=300)
DELIVERY_HTTP_TIMEOUT_SECONDS = env.float("DELIVERY_HTTP_TIMEOUT_SECONDS", default=10.0)
# run_sweeper looks for due deliveries this often (sooner when the next one is due sooner).
SWEEPER_TICK_SECONDS = env.float("SWEEPER_TICK_SECONDS", default=1.0)

# --- Data retention (pipeline.retention, `manage.py prune_data`, daily schedule) ---------
# Events older than this are deleted with their deliveries (never while a delivery is in flight); 0 keeps them.
RETENTION_EVENTS_DAYS = env.int("RETENTION_EVENTS_DAYS", default=365)
# Delivery attempt logs, and processed / ignored Loop webhook bodies (they hold PII); 0 keeps them.
RETENTION_DELIVERY_ATTEMPTS_DAYS = env.int("RETENTION_DELIVERY_ATTEMPTS_DAYS", default=14)
RETENTION_WEBHOOKS_DAYS = env.int("RETENTION_WEBHOOKS_DAYS", default=30)

# --- Logging: one JSON line per request/task in production -----------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django_q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")},
        # django-q2 logs under "django-q" (one INFO line per enqueued task otherwise).
        "django-q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")},
    },
}

# --- Production hardening (check --deploy clean) ----------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
