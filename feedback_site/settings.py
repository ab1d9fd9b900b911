"""Settings for feedback-site, read from the environment.

With no environment at all the site runs embedded: SQLite, Celery tasks executed
eagerly in-process, an in-memory cache and DEBUG on, so that one command starts a
demo. Setting DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis) switches to
the real services; DEBUG then defaults to off and a real SECRET_KEY is required.
Every variable is listed in .env.example.
"""

import math
import sys
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _gevent_patched() -> bool:
    """True in a gevent worker (the standard library patched for greenlets)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEV_SECRET_KEY = "django-insecure-embedded-development-key-do-not-use-in-production"  # noqa: S105

EMBEDDED = not env.str("DATABASE_URL", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=EMBEDDED)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY in ("", DEV_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value when DJANGO_DEBUG is off "
        '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "corsheaders",
    "django_htmx",
]
LOCAL_APPS = [
    "annotations",
    "exports",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    # Widget votes that are in order are answered here, ahead of the rest.
    "annotations.middleware.WidgetVoteMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "annotations.middleware.ApiBodyLimitMiddleware",
    "annotations.middleware.NulInputMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "annotations.middleware.SessionMiddleware",
    "annotations.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "annotations.middleware.AuthenticationMiddleware",
    "annotations.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "annotations.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "feedback_site.urls"
WSGI_APPLICATION = "feedback_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "annotations.context_processors.project_role",
            ],
        },
    },
]

# Database: SQLite in a file by default; DATABASE_URL=postgres://user@host:5432/name for production.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE transactions take the write lock up front, so concurrent writers
        # wait for it (up to the timeout) instead of failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that a Celery worker process in the tests sees the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    DB_POOL_CHECK_AFTER = env.float("DB_POOL_CHECK_AFTER", default=1.0)
    # DB_POOL_SIZE=N: a pool of at most N connections per process, lent to a request
    # for its duration, instead of one persistent connection per thread. On by default
    # in gevent workers (gunicorn.conf.py), where every client connection is a greenlet
    # of its own and would otherwise open a database connection of its own.
    _pool_size = env.str("DB_POOL_SIZE", default="").strip()
    if _pool_size and not _pool_size.isdigit():
        raise ImproperlyConfigured(
            f"DB_POOL_SIZE must be a whole number of connections, not {_pool_size!r}."
        )
    if _pool_size := int(_pool_size) if _pool_size else (8 if _gevent_patched() else 0):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, _pool_size),
            "max_size": _pool_size,
            # A request waits this long for a free connection before failing.
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # Pooled connections are checked when taken from the pool after sitting idle
        # for DB_POOL_CHECK_AFTER seconds, not on every request: feedback_site/postgresql.
        DATABASES["default"]["ENGINE"] = "feedback_site.postgresql"
        if not DATABASES["default"]["CONN_HEALTH_CHECKS"]:
            DB_POOL_CHECK_AFTER = math.inf
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    # Django's own queries bind parameters client-side and are never prepared; the
    # queue's claim statements bind server-side and are prepared once per connection,
    # since planning them costs more than running them. Turn off behind a
    # transaction-pooling PgBouncer older than 1.21.
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# An export job holds a session-level advisory lock while it runs, so that a redelivered
# task waits for the attempt in progress. A session lock needs a session of its own:
# turn it off behind a transaction-pooling PgBouncer.
EXPORT_JOB_LOCK = env.bool("EXPORT_JOB_LOCK", default=True)
# An export on PostgreSQL reads its pages over this many connections of its own at once
# (each page is one statement, run by the database on a core of its own); 0 reads on
# the process's connection only. Exports inside a transaction always read in it.
EXPORT_READ_CONNECTIONS = env.int("EXPORT_READ_CONNECTIONS", default=2)
# The files of an export that succeeded are removed this many days after it finished
# (a daily Celery beat task; the job's record and manifest stay); 0 keeps them.
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=30)
if EXPORT_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("EXPORT_RETENTION_DAYS must be 0 (keep every export) or more.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis in production (rate limits and throttles live there), memory when embedded.
_cache_url = env.str("CACHE_URL", default="")
_broker_url = env.str("CELERY_BROKER_URL", default="")
if not _cache_url and _broker_url.startswith(("redis://", "rediss://")):
    _cache_url = _broker_url
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="feedback-site"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "annotations" / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# An empty value means the default: environ.Path("") would be the working directory,
# and whitenoise would serve all of it (.env and .git included) under /static/.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default="") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Unhashed names when collectstatic has not run (tests, a fresh checkout) instead of a 500.
WHITENOISE_MANIFEST_STRICT = False
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default="") or BASE_DIR / "media")
MEDIA_URL = "media/"

# Security headers that matter once served over HTTPS.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG and not EMBEDDED)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Trusted only because gunicorn is reached through the proxy alone (see the README).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only, once deployed: browsers are told to remember it (HSTS), and plain HTTP
# requests are redirected. Off in the embedded default, which serves plain HTTP.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG and not EMBEDDED)
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=31_536_000 if not DEBUG and not EMBEDDED else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# API limits. The body limit also bounds Django's own request.body reads.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=32 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Reverse proxies in front of the app; 0 trusts REMOTE_ADDR only (X-Forwarded-For is spoofable).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["annotations.api.authentication.ProjectKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["annotations.api.permissions.HasSecretKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotations.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "feedback-site API",
    "DESCRIPTION": (
        "Log chatbot conversations and end-user feedback, review answers, export datasets. "
        "Authenticate with `Authorization: Bearer sk_...` (a project's secret key)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "FeedbackSourceEnum": "annotations.models.Feedback.Source",
        "AnnotationSourceEnum": "annotations.models.Annotation.Source",
        "FeedbackRatingEnum": "annotations.models.Feedback.Rating",
        "ExportStatusEnum": "exports.models.ExportJob.Status",
        "IngestStatusEnum": ["created", "existed", "error"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotations.api.schema.openapi_30_hook",
    ],
}

# CORS applies to the widget endpoints only, and the allowed origins are per project
# (annotations.api.widget decides through django-cors-headers' request hook).
CORS_URLS_REGEX = r"^/api/v1/widget/.*$"
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["GET", "POST", "DELETE", "OPTIONS"]
CORS_ALLOW_HEADERS = ["content-type", "x-project-key"]
CORS_EXPOSE_HEADERS = ["Retry-After"]
CORS_PREFLIGHT_MAX_AGE = 86400

# Widget limits: DRF rate strings ("100/s", "30/min"); the counters live in the cache.
WIDGET_RATE_PER_KEY = env.str("WIDGET_RATE_PER_KEY", default="100/s")
WIDGET_RATE_PER_CLIENT = env.str("WIDGET_RATE_PER_CLIENT", default="30/min")
WIDGET_MAX_BODY_BYTES = env.int("WIDGET_MAX_BODY_BYTES", default=16 * 1024)

# Celery: eager in-process when no broker is configured.
CELERY_BROKER_URL = _broker_url or "memory://"
CELERY_TASK_ALWAYS_EAGER = not _broker_url
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # The days that changed (new answers, imported history, votes) every 15 minutes;
    # every day once a night, which also counts votes withdrawn on old answers.
    "refresh-daily-stats": {
        "task": "annotations.tasks.refresh_all_daily_stats",
        "schedule": 15 * 60.0,
    },
    "rebuild-daily-stats": {
        "task": "annotations.tasks.refresh_all_daily_stats",
        "schedule": crontab(hour=3, minute=17),
        "kwargs": {"full": True},
    },
    "refresh-queues": {
        "task": "annotations.tasks.refresh_all_queues",
        "schedule": env.float("QUEUE_REFRESH_SECONDS", default=10 * 60.0),
    },
    "expire-exports": {
        "task": "exports.tasks.expire_export_jobs",
        "schedule": crontab(hour=4, minute=7),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
