"""Settings for the WhatsApp gateway: every value comes from the environment.

Development defaults are safe to run on a laptop; production mode
(``DJANGO_ENV=production``) refuses to start with any of them (see
``_refuse_insecure_production``). The variable names are part of the contract
documented in ``docs/DEPLOYMENT_GUIDE.md``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from config.settings_checks import DEV_SECRET_KEY, refuse_insecure_production, s3_media_options
from config.settings_openapi import OPENAPI_SETTINGS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}")
IS_PRODUCTION = DJANGO_ENV == "production"
IS_TEST = DJANGO_ENV == "test"

# (DEV_SECRET_KEY, the development default, is in config.settings_checks with the other known secrets.)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])

# --------------------------------------------------------------------------- apps
# Which list an app belongs to is decided once, before the first migration:
# apps with a foreign key to the user model live wherever the user model lives.
SHARED_APPS = [
    "django_tenants",
    "core",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "core.console.apps.ConsoleAdminConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_prometheus",
    "demo",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "core.console.apps.ConsoleAdminConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "accounts",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "sessions_waha",
    "apikeys",
    "messaging",
    "webhooks",
    "events",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
DEFAULT_NOT_FOUND_TENANT_VIEW = "core.problems.tenant_not_found_view"
# One SET search_path per schema switch instead of one per query.
TENANT_LIMIT_SET_CALLS = True
# How long a process trusts its cached Host/X-Tenant → tenant lookups (tenants.middleware).
TENANT_CACHE_SECONDS = env.float("TENANT_CACHE_SECONDS", default=10.0)

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.web.middleware.RequestIdMiddleware",
    "core.web.middleware.ProblemExceptionMiddleware",
    "core.web.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files are served before tenant routing: no database lookup for them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.TenantRoutingMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns axes' lockout flag into the JSON 429 of core.problems (admin and API).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

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

WSGI_APPLICATION = "config.wsgi.application"

# --------------------------------------------------------------------------- data
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/waha_gateway"),
}
# django-tenants wraps the backend named here; django-prometheus' wrapper keeps
# query metrics while django-tenants sets the search_path.
DATABASES["default"]["ENGINE"] = "core.db.backend"
ORIGINAL_BACKEND = "django_prometheus.db.backends.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Django turns psycopg's prepared statements off by default, for poolers in transaction mode (which this
# service cannot sit behind anyway: docs/DEPLOYMENT_GUIDE.md). Django's own cursors bind client-side and never
# prepare; this lets the hot statements of core.db.statements be prepared once per connection.
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# Names the process kind in pg_stat_activity (bin/web and bin/worker set their own).
DATABASES["default"]["OPTIONS"]["application_name"] = env.str("DB_APPLICATION_NAME", default="waha-gateway")
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    # Tenant-aware keys, so that one tenant's cached values and per-user
    # limits never collide with another's.
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    },
    # Global per-client-IP limits. Redis errors are swallowed here and the
    # limiter fails open: axes (database handler) still locks brute force.
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "rl",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
    },
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_FAIL_OPEN = True
LOGIN_RATE = env.str("LOGIN_RATE", default="10/m")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --------------------------------------------------------------------------- auth
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if IS_TEST and env.bool("FAST_PASSWORD_HASHER", default=True):
    # bcrypt at 12 rounds costs ~0.25 s per hash; the hasher itself is tested
    # separately against the production list.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The admin form posts "username" and the API calls authenticate(username=...);
# axes would otherwise look for USERNAME_FIELD ("email") and lock nobody.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.lockout_username"
AXES_CLIENT_IP_CALLABLE = "core.web.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False
# Successful logins are logged by accounts.services; axes' access log would
# create a Django session for every API login.
AXES_DISABLE_ACCESS_LOG = True

# Signs the JWTs when set (else SECRET_KEY does): HS256, so it must be as long and random as SECRET_KEY.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("ACCESS_TOKEN_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("REFRESH_TOKEN_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.TenantAccessToken",),
    "TOKEN_OBTAIN_SERIALIZER": "accounts.serializers.LoginSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.serializers.TenantTokenRefreshSerializer",
    "TOKEN_BLACKLIST_SERIALIZER": "accounts.serializers.LogoutSerializer",
}

# --------------------------------------------------------------------------- API
REST_FRAMEWORK = {
    # One request path for both: a user's bearer token, or a backend's API key (X-Api-Key / Api-Key).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TenantJWTAuthentication", "apikeys.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.rest.negotiation.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "core.rest.schema.ServiceAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.rest.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "core.problems.drf_exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = OPENAPI_SETTINGS  # config/settings_openapi.py: the schema's title, tags, enum names

# Bodies larger than this are refused with 413 before they are read (core.web.middleware.BodySizeLimitMiddleware);
# the endpoints that carry a media file take that file on top (MEDIA_MAX_BYTES, below).
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=4 * 1024 * 1024)

# --------------------------------------------------------------------------- WAHA
WAHA_BASE_URL = env.str("WAHA_BASE_URL", default="http://127.0.0.1:3001")
WAHA_API_KEY = env.str("WAHA_API_KEY", default="sandbox-dev-key-change-me")
WEBHOOK_BASE_URL = env.str("WEBHOOK_BASE_URL", default="http://127.0.0.1:8000")
SEND_PACING = env.str("SEND_PACING", default="on")
# Messaging pipeline. With the defaults a message whose sends keep failing
# transiently is retried for a bit over a minute and failed within 5 minutes.
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=6)
MESSAGE_RETRY_BASE_SECONDS = env.float("MESSAGE_RETRY_BASE_SECONDS", default=2.0)
MESSAGE_RETRY_MAX_SECONDS = env.float("MESSAGE_RETRY_MAX_SECONDS", default=60.0)
SENDING_STUCK_SECONDS = env.int("SENDING_STUCK_SECONDS", default=180)
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=64)
DISPATCH_CONCURRENCY = env.int("DISPATCH_CONCURRENCY", default=8)
DISPATCH_SLICE_SECONDS = env.float("DISPATCH_SLICE_SECONDS", default=20.0)
DISPATCH_LOCK_SECONDS = env.int("DISPATCH_LOCK_SECONDS", default=60)
# Ask WAHA (check-exists, cached 24 h) before the first message to a new phone
# number: a number not on WhatsApp then fails at once instead of sitting at
# "sent" forever. Costs one WAHA call per new chat.
CHECK_NEW_NUMBERS = env.bool("CHECK_NEW_NUMBERS", default=True)
# WAHA can hold a send or QR request ~15 s while a session starts (WAHA.md §9.2).
WAHA_CONNECT_TIMEOUT = env.float("WAHA_CONNECT_TIMEOUT", default=3.05)
WAHA_READ_TIMEOUT = env.float("WAHA_READ_TIMEOUT", default=20.0)

# --------------------------------------------------------------------------- Celery
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE = {
    "messaging-sweep": {"task": "messaging.sweep", "schedule": env.float("SWEEP_SECONDS", default=10.0)},
    "messaging-stats": {
        "task": "messaging.stats_refresh", "schedule": env.float("STATS_REFRESH_SECONDS", default=60.0),
    },
    "sessions-reconcile": {
        "task": "sessions_waha.reconcile_all",
        "schedule": env.float("SESSIONS_RECONCILE_SECONDS", default=20.0),
    },
}
# Keep Django's LOGGING (LOG_FORMAT=json included) in worker and beat.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --------------------------------------------------------------------------- metrics
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
PROMETHEUS_EXPORT_MIGRATIONS = False

# --------------------------------------------------------------------------- web
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The console shows every time with its seconds (core/console/formats/en/formats.py).
FORMAT_MODULE_PATH = ["core.console.formats"]
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Development serves static files straight from the apps (no collectstatic).
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_HEADERS = (
    "accept", "authorization", "content-type", "idempotency-key", "x-request-id", "x-tenant",
)
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after")

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health", r"^ready$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "core.problems.csrf_failure_view"
SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is an opt-in decision for the operator (SECURE_HSTS_PRELOAD).
    "security.W021",
]

# --------------------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="info").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logging.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "console": {
            "format": "%(asctime)s %(levelname)-7s %(name)s %(message)s request_id=%(request_id)s tenant=%(tenant)s",
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": sys.stdout,
            "filters": ["context"],
            "formatter": "json" if LOG_FORMAT == "json" else "console",
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # The request log line is written by core.web.middleware with the request id.
        "django.request": {"level": "ERROR", "propagate": True},
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Its DEBUG lines carry whole URLs, query included: an event endpoint's URL may hold a token.
        "urllib3": {"level": "WARNING"},
    },
}


# Secrets an attacker can test offline (a JWT's HS256 key, from any one token) or online without limit
# must be long and random: at least this many characters, and this many different ones.
# (24 for the object store's secret: some S3-compatible stores issue keys of 31 characters.)
# --------------------------------------------------------------------------- webhooks and inbound media
# (webhooks app: POST /webhooks/waha, the media copies and their sweep; see webhooks/services/)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# Seconds a worker keeps a session's route (tenant, key) in memory; 0 looks it up on every event.
WEBHOOK_ROUTE_CACHE_SECONDS = env.float("WEBHOOK_ROUTE_CACHE_SECONDS", default=5.0)
# Event rows are the dedup memory: kept far longer than WAHA's whole retry span.
WEBHOOK_EVENT_RETENTION_DAYS = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30)
# Acks for messages this service never sent (typed on the phone) are dropped after this.
PENDING_ACK_MAX_AGE_HOURS = env.int("PENDING_ACK_MAX_AGE_HOURS", default=24)
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Inbound media larger than this is not copied from WAHA (the message keeps a media error).
MEDIA_INBOUND_MAX_BYTES = env.int("MEDIA_INBOUND_MAX_BYTES", default=64 * 1024 * 1024)
MEDIA_FETCH_MAX_ATTEMPTS = env.int("MEDIA_FETCH_MAX_ATTEMPTS", default=5)
MEDIA_SWEEP_GRACE_SECONDS = env.int("MEDIA_SWEEP_GRACE_SECONDS", default=20)
# Where inbound media copies live: "local", the directory MEDIA_ROOT (one host), or "s3", a bucket of any
# S3-compatible store that web and workers share from any host (messaging/storage.py). MEDIA_STORAGE_BACKEND
# may name another Django storage class; naming django-storages' S3 backend implies "s3".
MEDIA_STORAGE_BACKENDS = {
    "local": "django.core.files.storage.FileSystemStorage",
    "s3": "messaging.storage.InboundMediaS3Storage",
}
_S3_BACKENDS = {
    MEDIA_STORAGE_BACKENDS["s3"], "storages.backends.s3.S3Storage", "storages.backends.s3boto3.S3Boto3Storage",
}
MEDIA_STORAGE_BACKEND = env.str("MEDIA_STORAGE_BACKEND", default="")
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="s3" if MEDIA_STORAGE_BACKEND in _S3_BACKENDS else "local")
if MEDIA_STORAGE not in MEDIA_STORAGE_BACKENDS:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be local or s3, not {MEDIA_STORAGE!r}")
MEDIA_STORAGE_BACKEND = MEDIA_STORAGE_BACKEND or MEDIA_STORAGE_BACKENDS[MEDIA_STORAGE]
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
# Empty: AWS S3 (endpoint from the region). MinIO and other stores: their URL, e.g. http://minio:9000.
MEDIA_S3_ENDPOINT_URL = env.str("MEDIA_S3_ENDPOINT_URL", default="")
MEDIA_S3_REGION = env.str("MEDIA_S3_REGION", default="")
# Empty keys: boto3's own lookup (AWS_* variables, an instance role); production requires them.
MEDIA_S3_ACCESS_KEY_ID = env.str("MEDIA_S3_ACCESS_KEY_ID", default="")
MEDIA_S3_SECRET_ACCESS_KEY = env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="")
# Path-style URLs (endpoint/bucket/key) suit every S3-compatible store; bucket.minio:9000 would not resolve.
MEDIA_S3_ADDRESSING_STYLE = env.str("MEDIA_S3_ADDRESSING_STYLE",
                                    default="path" if MEDIA_S3_ENDPOINT_URL else "auto")


if MEDIA_STORAGE == "s3":
    _inbound_media_options = s3_media_options(globals())
elif MEDIA_STORAGE_BACKEND.endswith("FileSystemStorage"):
    _inbound_media_options = {"location": str(MEDIA_ROOT)}
else:
    _inbound_media_options = {}
STORAGES["inbound_media"] = {"BACKEND": MEDIA_STORAGE_BACKEND, "OPTIONS": _inbound_media_options}
CELERY_BEAT_SCHEDULE["webhooks-media-sweep"] = {
    "task": "webhooks.sweep", "schedule": env.float("WEBHOOK_SWEEP_SECONDS", default=15.0),
}

# --------------------------------------------------------------------------- event webhooks to tenants
# (events app: POST /webhooks/endpoints, the outbox and its deliveries; see events/delivery.py)
# Deliveries run on their own Celery queue and worker process (Procfile "events"), so a slow endpoint
# never holds the message pipeline.
CELERY_TASK_ROUTES = {"events.*": {"queue": "events"}}
EVENT_DELIVERY_TIMEOUT_SECONDS = env.float("EVENT_DELIVERY_TIMEOUT_SECONDS", default=10.0)
# Seconds between a failed attempt and the next (±10 % jitter); one more attempt than entries. The default
# retries for 27.6 hours (never less than 24.8 with the jitter), the first retry within 5.5 s.
EVENT_RETRY_SCHEDULE = env.list("EVENT_RETRY_SCHEDULE", cast=float,
                                default=[5, 60, 300, 1800, 7200, 18000, 36000, 36000])
# An endpoint whose every attempt failed for this long is disabled, with the reason shown.
EVENT_DISABLE_AFTER_SECONDS = env.float("EVENT_DISABLE_AFTER_SECONDS", default=24 * 3600)
# Both secrets sign every delivery this long after a rotation.
EVENT_SECRET_OVERLAP_SECONDS = env.float("EVENT_SECRET_OVERLAP_SECONDS", default=24 * 3600)
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=7)
# Requests in flight to one endpoint, and deliveries claimed per round.
EVENT_ENDPOINT_CONCURRENCY = env.int("EVENT_ENDPOINT_CONCURRENCY", default=8)
EVENT_DELIVERY_BATCH_SIZE = env.int("EVENT_DELIVERY_BATCH_SIZE", default=32)
EVENT_DRAIN_SLICE_SECONDS = env.float("EVENT_DRAIN_SLICE_SECONDS", default=15.0)
# Production refuses http and loopback, private, link-local and metadata addresses, except these networks
# (CIDR, e.g. 10.20.0.0/16 for a receiver inside the private network); development allows everything.
EVENT_WEBHOOK_ALLOWED_NETWORKS = env.list("EVENT_WEBHOOK_ALLOWED_NETWORKS", default=[])
EVENT_WEBHOOK_STRICT_URLS = IS_PRODUCTION
CELERY_BEAT_SCHEDULE["events-sweep"] = {
    "task": "events.sweep", "schedule": env.float("EVENT_SWEEP_SECONDS", default=5.0),
}
# --------------------------------------------------------------------------- media for sending
# (messaging/services/uploads.py: POST /media and inline base64 in sends, kept 24 hours in the inbound media storage)
# The largest file a client may send (413 over it). The worker hands the file to WAHA as base64 inside the JSON
# send body, which WAHA caps at 50 MB (WAHA.md §4): at most 37 MiB of file fit, with room for
# the rest of the body.
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=16 * 1024 * 1024)
MEDIA_MAX_BYTES_CEILING = 37 * 1024 * 1024
if not 1 <= MEDIA_MAX_BYTES <= MEDIA_MAX_BYTES_CEILING:
    raise ImproperlyConfigured(
        f"MEDIA_MAX_BYTES must be between 1 and {MEDIA_MAX_BYTES_CEILING} (37 MiB): files are sent to WAHA as "
        "base64 inside a JSON body, which WAHA refuses above 50 MB")
# How often beat deletes expired uploads (the file and its row) that no open message needs any more.
CELERY_BEAT_SCHEDULE["messaging-uploads-expire"] = {
    "task": "messaging.uploads_expire", "schedule": env.float("MEDIA_EXPIRY_SWEEP_SECONDS", default=300.0),
}
# Django's own size check of a body (HttpRequest.body) runs after the middleware's limit per endpoint: it is the
# largest of those (a send with a file inline as base64), so that it never refuses what the middleware let through.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES + 4 * -(-MEDIA_MAX_BYTES // 3)

# Last: the checks read settings from every section above.
if IS_PRODUCTION:
    refuse_insecure_production(globals())
