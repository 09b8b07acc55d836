"""Django settings, all read from the environment (see the README's "Settings" table).

With nothing set, everything runs on one machine without servers: SQLite, a filesystem Celery
broker and a file cache under ``var/``. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and
Redis.
"""

from __future__ import annotations

from pathlib import Path

import environ
import redis
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from directory.celery import broker_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("READ_DOT_ENV_FILE", default=True) and (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# --- Core -----------------------------------------------------------------------------------------

DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
# On by default so that a first `make run` works with nothing set; production sets DEBUG=false.
DEBUG = env.bool("DEBUG", default=True)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DEBUG is off but SECRET_KEY is the built-in development key. "
        "Set SECRET_KEY to a long random value (e.g. `python -c 'import secrets; "
        "print(secrets.token_urlsafe(50))'`) before running in production."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Where the directory keeps its own files: the SQLite database, broker queues, icons, keys.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    # django.contrib.admin with the directory's admin site (two-factor sign-in).
    "directory.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "directory",
    "crawler",
    "listings_api",
    "django.contrib.sitemaps",
    # django-health-check: its check classes back /readyz; its `manage.py health_check` command.
    "health_check",
]

MIDDLEWARE = [
    # Outermost: count, time and log every request; then answer /healthz and /readyz ahead of the
    # host check, HTTPS redirect, sessions and CSRF (load balancers probe by IP address).
    "directory.ops.metrics.MetricsMiddleware",
    "directory.ops.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything that can answer a request, as django-cors-headers asks.
    "corsheaders.middleware.CorsMiddleware",
    "directory.ops.security_headers.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The visitor's language from the URL prefix (first visits: Accept-Language), before
    # CommonMiddleware's slash redirect so a redirect keeps the prefix.
    "directory.site_language.SiteLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication, as django-otp asks: marks the user verified by a second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns lock-outs into a response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "directory.urls"
WSGI_APPLICATION = "directory.wsgi.application"

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

# --- Data -----------------------------------------------------------------------------------------

_database = env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite creates the file but not its folder; a fresh VAR_DIR must work on the first command.
    Path(_database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web server read while the worker writes; the timeout rides out short locks.
    _engine_options = {
        "OPTIONS": {
            **_database.get("OPTIONS", {}),
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    }
else:
    _engine_options = {
        "CONN_MAX_AGE": env.int("DATABASE_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
    }
DATABASES = {"default": {**_database, "ATOMIC_REQUESTS": False, **_engine_options}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

# Redis answers within milliseconds; when it is down or stuck, nobody should wait long for it.
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=0.5)
REDIS_CACHE_TIMEOUT = env.float("REDIS_CACHE_TIMEOUT", default=0.5)

if REDIS_URL:
    # django-redis, whose IGNORE_EXCEPTIONS turns a Redis that is down or stuck into a cache miss
    # (get answers None, set and incr do nothing): pages and the API are then built from the
    # database, slower but never failing, and use the cache again as soon as Redis is back.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "directory",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_CACHE_TIMEOUT,
                # One immediate retry on a broken connection (after a Redis restart each pooled
                # connection fails once; with Redis down the retry is refused as fast), none
                # on a timeout (a stuck Redis would cost twice the wait).
                "CONNECTION_POOL_KWARGS": {
                    "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
                },
            },
        }
    }
    # Each ignored error is logged (logger django_redis.cache), so an outage is seen, not hidden.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery (namespace CELERY_, see directory/celery.py) ------------------------------------------

# Above kombu's 1-second BRPOP wait, which a worker's broker connection must outlast.
REDIS_BROKER_TIMEOUT = env.float("REDIS_BROKER_TIMEOUT", default=2.0)
_broker = broker_settings(
    REDIS_URL,
    VAR_DIR / "celery",
    connect_timeout=REDIS_CONNECT_TIMEOUT,
    socket_timeout=REDIS_BROKER_TIMEOUT,
)
CELERY_BROKER_URL = _broker["broker_url"]
CELERY_RESULT_BACKEND = _broker["result_backend"]
CELERY_BROKER_TRANSPORT_OPTIONS = _broker["broker_transport_options"]
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = _broker.get("result_backend_transport_options", {})
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = _broker.get("redis_socket_connect_timeout")
CELERY_REDIS_SOCKET_TIMEOUT = _broker.get("redis_socket_timeout")
# A web request that queues a task (a submission's check, the admin's "poll now") tries twice,
# the second time at once (a pooled connection may be stale after a Redis restart), then gives
# up instead of Celery's longer default: with Redis down it answers within a second, the caller
# keeps what it saved, and crawler.requeue_unchecked_submissions queues the check later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# CELERY_BEAT_SCHEDULE: with the crawler's settings below, whose intervals it uses.

# --- Directory behaviour --------------------------------------------------------------------------

# Rooms of a server that stopped answering stay listed (as offline) this long, then leave listings.
OFFLINE_GRACE_DAYS = env.int("OFFLINE_GRACE_DAYS", default=7)
# Pages and listings built from the whole directory: while the data changes (a crawl), serve
# the previous copy and rebuild it in the background, at most once per this many seconds.
REBUILD_IN_BACKGROUND = env.bool("REBUILD_IN_BACKGROUND", default=True)
REBUILD_MIN_SECONDS = env.float("REBUILD_MIN_SECONDS", default=5.0)
# Seconds a web process reuses its reading of the data version (one small query) before reading
# it again: a change reaches pages and listings at most this late (directory/freshness.py).
DATA_VERSION_SECONDS = env.float("DATA_VERSION_SECONDS", default=1.0)
# How often a web process's threads take turns (Python's default: 0.005). Shorter: a request
# waits less behind a background rebuild (directory/wsgi.py).
WEB_SWITCH_INTERVAL_SECONDS = env.float("WEB_SWITCH_INTERVAL_SECONDS", default=0.0005)
# The admin's crawl report: a crawl older than this is flagged stale; rooms found falling by at
# least this percentage (of at least this many rooms) is flagged as a sudden drop.
CRAWL_REPORT_STALE_MINUTES = env.int("CRAWL_REPORT_STALE_MINUTES", default=12 * 60)
CRAWL_REPORT_DROP_PERCENT = env.int("CRAWL_REPORT_DROP_PERCENT", default=30)
CRAWL_REPORT_MIN_ROOMS = env.int("CRAWL_REPORT_MIN_ROOMS", default=5)

# --- Crawler (crawler/): CRAWLER_* settings ---------------------------------------------------

CRAWLER_CONCURRENCY = env.int("CRAWLER_CONCURRENCY", default=64)
CRAWLER_CONNECT_TIMEOUT = env.float("CRAWLER_CONNECT_TIMEOUT", default=5.0)
CRAWLER_DEADLINE = env.float("CRAWLER_DEADLINE", default=10.0)
# The first request to a host: up to one attempt per deadline, each started once the previous one
# has run 40% of its own (hedged, crawler/hedging.py), so a host that never answers costs under two
# deadlines and a flaky one answers a later attempt soon.
CRAWLER_PROBE_DEADLINES = [
    float(seconds) for seconds in env.list("CRAWLER_PROBE_DEADLINES", default=["5", "5", "5"])
]
CRAWLER_MAX_ROOMS_BYTES = env.int("CRAWLER_MAX_ROOMS_BYTES", default=2_000_000)
CRAWLER_MAX_SOURCE_BYTES = env.int("CRAWLER_MAX_SOURCE_BYTES", default=5_000_000)
CRAWLER_MAX_IMAGE_BYTES = env.int("CRAWLER_MAX_IMAGE_BYTES", default=5_000_000)
CRAWLER_MAX_IMAGE_PIXELS = env.int("CRAWLER_MAX_IMAGE_PIXELS", default=16_000_000)
CRAWLER_ICON_SIZE = env.int("CRAWLER_ICON_SIZE", default=256)
CRAWLER_ALLOW_PRIVATE_ADDRESSES = env.bool("CRAWLER_ALLOW_PRIVATE_ADDRESSES", default=False)
CRAWLER_PROXY = env.str("CRAWLER_PROXY", default="")
CRAWLER_CA_BUNDLE = env.str("CRAWLER_CA_BUNDLE", default="")
CRAWLER_USER_AGENT = env.str(
    "CRAWLER_USER_AGENT",
    default="session-directory/0.1 (Session Communities crawler; +https://github.com/)",
)
CRAWLER_KEY_FILE = Path(env.str("CRAWLER_KEY_FILE", default=str(VAR_DIR / "crawler-x25519.key")))
CRAWLER_POLL_INTERVAL_MINUTES = env.float("CRAWLER_POLL_INTERVAL_MINUTES", default=15)
CRAWLER_SOURCES_INTERVAL_HOURS = env.float("CRAWLER_SOURCES_INTERVAL_HOURS", default=6)
CRAWLER_PRUNE_INTERVAL_MINUTES = env.float("CRAWLER_PRUNE_INTERVAL_MINUTES", default=60)
CRAWLER_CLAIM_TIMEOUT = env.int("CRAWLER_CLAIM_TIMEOUT", default=600)
CRAWLER_ACTIVITY_RAW_DAYS = env.int("CRAWLER_ACTIVITY_RAW_DAYS", default=30)
CRAWLER_NEW_ROOM_DAYS = env.int("CRAWLER_NEW_ROOM_DAYS", default=28)
CRAWLER_USERS_PER_MODERATOR = env.int("CRAWLER_USERS_PER_MODERATOR", default=100)
CRAWLER_OFFICIAL_KEYS = env.list(
    "CRAWLER_OFFICIAL_KEYS",
    default=["a03c383cf63c3c4efe67acc52112a6dd734b3a946b9545f488aaa93da7991238"],
)

CRAWLER_RECHECK_MINUTES = env.float("CRAWLER_RECHECK_MINUTES", default=5)
CELERY_BEAT_SCHEDULE = {
    "crawler-poll-all": {
        "task": "crawler.poll_all",
        "schedule": CRAWLER_POLL_INTERVAL_MINUTES * 60,
    },
    "crawler-sources": {
        "task": "crawler.crawl_sources",
        "schedule": CRAWLER_SOURCES_INTERVAL_HOURS * 3600,
    },
    "crawler-prune-activity": {
        "task": "crawler.prune_activity",
        "schedule": CRAWLER_PRUNE_INTERVAL_MINUTES * 60,
    },
    # Submissions still waiting for their check this long (its task could not be queued while
    # Redis was down) are queued again, this often.
    "crawler-requeue-submissions": {
        "task": "crawler.requeue_unchecked_submissions",
        "schedule": CRAWLER_RECHECK_MINUTES * 60,
        "kwargs": {"older_than": CRAWLER_RECHECK_MINUTES * 60},
    },
}

# --- Listing provider (listings_api/): LP_* and API settings ----------------------------------

# The provider's raw 32-byte X25519 private key (like pysogs's key_x25519); made on first use.
LP_KEY_FILE = Path(env.str("LP_KEY_FILE", default=str(VAR_DIR / "lp_key_x25519")))
# Public address of the API, e.g. https://example.org: absolute URLs and the lp_keys join link.
# Empty: taken from each request's host (and http://127.0.0.1:8000 for lp_keys).
LP_BASE_URL = env.str("LP_BASE_URL", default="").rstrip("/")
# Seconds a built listing stays cached; a crawl or a moderator's change replaces it sooner.
LP_CACHE_SECONDS = env.int("LP_CACHE_SECONDS", default=900)
# Cache-Control max-age sent to clients (they revalidate with ETag / Last-Modified after it).
LP_CLIENT_MAX_AGE = env.int("LP_CLIENT_MAX_AGE", default=300)
# Anonymous request rates per client address ("N/sec|min|hour|day"; empty: no limit). Onion
# requests arrive from a few service nodes carrying many users, hence the higher rate.
LP_THROTTLE_RATE = env.str("LP_THROTTLE_RATE", default="120/min") or None
LP_ONION_THROTTLE_RATE = env.str("LP_ONION_THROTTLE_RATE", default="1200/min") or None
# Onion request bodies over this many bytes are refused before any decryption.
LP_ONION_MAX_BYTES = env.int("LP_ONION_MAX_BYTES", default=1024 * 1024)

CORS_URLS_REGEX = r"^/(listings|listing/[^/]+|api/schema/)$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ["ETag", "Last-Modified", "Retry-After"]
CORS_PREFLIGHT_MAX_AGE = 86400

SPECTACULAR_SETTINGS = {
    "TITLE": "Session Communities listing provider",
    "DESCRIPTION": (
        "Listings of Session Communities (SOGS rooms) for Session clients and other consumers, "
        "following the Session Listing Provider protocol draft. Every endpoint here is also "
        "reachable through Session onion requests at POST /oxen/v4/lsrpc (see /api/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["listings_api.schema.only_listing_endpoints"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Website (public pages, submissions) ----------------------------------------------------------

SELF, NONE = "'self'", "'none'"  # CSP source keywords (csp.constants)

# A strict policy: every asset comes from this site; no inline scripts or styles, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [NONE],
        "object-src": [NONE],
        "media-src": [NONE],
        "frame-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
    }
}
# Rooms per page of the home page; the rendered list is cached until a crawl or an edit.
WEB_ROOMS_PER_PAGE = env.int("WEB_ROOMS_PER_PAGE", default=60)
WEB_HOME_CACHE_SECONDS = env.int("WEB_HOME_CACHE_SECONDS", default=300)
# Submissions and reports per client (hashed IP) per hour.
WEB_SUBMISSIONS_PER_HOUR = env.int("WEB_SUBMISSIONS_PER_HOUR", default=5)
WEB_REPORTS_PER_HOUR = env.int("WEB_REPORTS_PER_HOUR", default=10)

# --- Operations (health, metrics, logs) ---------------------------------------------------------

# /readyz fails when the newest finished crawl is older than this (default: two source crawls).
READY_MAX_CRAWL_AGE_MINUTES = env.float(
    "READY_MAX_CRAWL_AGE_MINUTES", default=CRAWLER_SOURCES_INTERVAL_HOURS * 2 * 60
)
# /metrics answers requests with "Authorization: Bearer <METRICS_TOKEN>" (empty: no token)...
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# ...and direct (not proxied) requests from these addresses or networks; anyone else gets 404.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# Folder for per-process metric files when several web workers serve (prometheus_client
# reads it from the environment at import; empty it before granian starts). Unset: one process.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if "PROMETHEUS_MULTIPROC_DIR" in env.ENVIRON:  # as prometheus_client tests it
    if not PROMETHEUS_MULTIPROC_DIR:
        raise ImproperlyConfigured(
            "PROMETHEUS_MULTIPROC_DIR is set but empty; unset it or name a folder."
        )
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# Log lines of web, worker and beat: "json" (one object a line, `extra` fields as keys) or "plain".
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")

# --- Security -------------------------------------------------------------------------------------

ADMIN_URL = env.str("ADMIN_URL", default="admin/")
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "directory.ops.client_address.client_address"

# Staff need a second factor (TOTP or a backup code) to open the admin; off for `make run`.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=not DEBUG)
# The name authenticator apps show next to the account (django-otp's TOTP plugin).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Session Communities directory")
# Operators managing devices in the admin never see their secret keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Production (DEBUG off) is served over HTTPS: cookies only over TLS, plain HTTP redirected, HSTS.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and scrapers speak plain HTTP to the process itself, behind the TLS proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Storage servers relay onion requests over plain HTTP when the client asks, follow no redirect
# and hand a 301 back, which the client counts against its own path (oxenss
# `rpc/request_handler.cpp`); pysogs serves the endpoint over HTTP too. Its body is encrypted.
SECURE_REDIRECT_EXEMPT += [r"^oxen/v4/lsrpc$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies in front of the site, each appending to X-Forwarded-For: one count for the
# client address of rate limits, API throttles and login lock-outs (directory/ops/client_address.py;
# 0: REMOTE_ADDR, X-Forwarded-For ignored). Used through REST_FRAMEWORK["NUM_PROXIES"] below.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
for _old_name in ("WEB_NUM_PROXIES", "API_NUM_PROXIES"):
    if _old_name in env.ENVIRON:  # two counts became one; a silent default would be wrong
        raise ImproperlyConfigured(f"{_old_name} is now NUM_PROXIES, one count for site and API.")
# Preloading is an operator's irreversible choice, submitted to browsers by hand; never defaulted.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18N, static, media --------------------------------------------------------------------------

# The public site's languages (README "Languages"): English unprefixed, the others under
# /<code>/ (directory/site_language.py). The admin, the API and the probes stay English.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("ar", "العربية"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("fa", "فارسی"),
    ("fr", "Français"),
    ("pt-br", "Português (Brasil)"),
    ("ru", "Русский"),
    ("tr", "Türkçe"),
    ("uk", "Українська"),
    ("zh-hans", "简体中文"),
]
LOCALE_PATHS = [BASE_DIR / "directory" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "NUM_PROXIES": NUM_PROXIES,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line; the `extra={...}` fields of a log call become keys.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Only through the root handler, in LOG_FORMAT: Django's defaults add their own handlers.
        "django": {"handlers": [], "level": "INFO"},
    },
}
