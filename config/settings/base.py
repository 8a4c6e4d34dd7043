"""Settings read from the environment (CONTRACT.md "Process and settings").

DATABASE_URL unset  -> an embedded SQLite file (quick-start only).
REDIS_URL unset     -> no broker; `manage.py serve` sweeps deadlines in-process.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and env.bool("REQUIRE_SECRET_KEY", default=False):
        raise environ.ImproperlyConfigured("SECRET_KEY must be set in production")
    # A per-checkout development key; production sets SECRET_KEY (and REQUIRE_SECRET_KEY=1).
    SECRET_KEY = "dev-insecure-" + str(BASE_DIR)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "orders",
    "disputes",
    "penalties",
    "evidence",
    "aftersales",
    "django_htmx",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "core.middleware.RequestSizeLimitMiddleware",  # 413 before a body is read (issue #8)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.ReleaseRenderedViewMiddleware",  # last: a rendered API response lets go of its view (#9)
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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
# Key look-ups and inserts of the hot paths are prepared once per PostgreSQL session (core/prepared.py); off
# by itself with CONN_MAX_AGE=0. Turn it off behind a pooler in transaction or statement mode (docs/DEPLOY.md).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if env.str("TEST_DB_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DB_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The quick start's SQLite ignores the non-key columns of a covering index (penalty_shop_idx
    # INCLUDE points): the index still works there, it only does not cover. PostgreSQL uses them.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    # Degrades to process memory while Redis is down (core/cache.py): throttles and the login lockout
    # keep working per process and the API keeps writing.
    CACHES = {
        "default": {
            "BACKEND": "core.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
            "OPTIONS": {"RETRY_SECONDS": env.float("CACHE_RETRY_SECONDS", default=5.0)},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Every authenticate() (token endpoint, dashboard sign-in, admin) counts failures (core/lockout.py).
AUTHENTICATION_BACKENDS = ["core.lockout.LockoutModelBackend"]
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [p for p in [BASE_DIR / "static"] if p.exists()]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media-not-served/"

LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_FILTER_BACKENDS": [],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Abuse limits (core/throttling.py); rates are THROTTLE_RATES below, read per request.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.WriteRateThrottle"],
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),  # set behind a load balancer (X-Forwarded-For)
}
THROTTLE_RATES = {
    "write": env.str("THROTTLE_WRITE_RATE", default="120/min"),  # POST/PATCH/… per user
    "auth": env.str("THROTTLE_AUTH_RATE", default="20/min"),  # POST auth/token/ per client address
}

# Content Security Policy (Django's own middleware): the dashboard and the API docs load only what
# the server itself serves (vendored htmx, Pico CSS, Swagger UI); no inline script, no framing.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "After-sales dispute management API",
    "DESCRIPTION": "Refunds, returns, complaints, arbitration and penalties; rules cited by RULEBOOK id.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Vendored Swagger UI / Redoc: no page loads anything from outside the server.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "DeadlineStatusEnum": "disputes.models.Deadline.Status",
    },
}

# Celery: Redis as broker; beat drives the sweep. No result backend is needed.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True

# The deadline engine (disputes/engine.py).
DEADLINE_SWEEP_INTERVAL_SECONDS = env.int("DEADLINE_SWEEP_INTERVAL_SECONDS", default=30)
# Rows per claim: the benches' size (docs/PERFORMANCE.md); a batch rule's fixed cost per batch (about
# ten statements and the action's plan) spread over 500 rows fired R-T01 16-31 % faster than over 200.
DEADLINE_BATCH_SIZE = env.int("DEADLINE_BATCH_SIZE", default=500)
DEADLINE_RETRY_BACKOFF_SECONDS = env.int("DEADLINE_RETRY_BACKOFF_SECONDS", default=60)
DEADLINE_SWEEP_TIME_BUDGET_SECONDS = env.int("DEADLINE_SWEEP_TIME_BUDGET_SECONDS", default=25)
# A sweep batch commits without waiting for its WAL flush (disputes.engine.deadlines_fire_batch says
# why exactly-once holds); off makes every batch commit synchronously (docs/DECISIONS.md).
DEADLINE_SWEEP_ASYNC_COMMIT = env.bool("DEADLINE_SWEEP_ASYNC_COMMIT", default=True)
# On PostgreSQL a claim's batch rules fire in the claim's own transaction, under the claim's row locks,
# with no lease written for them (disputes.engine.deadlines_sweep_batch; docs/DECISIONS.md); off: every
# claimed row is leased and committed first, then fired in a transaction of its own batch or row.
DEADLINE_SWEEP_FIRE_IN_CLAIM = env.bool("DEADLINE_SWEEP_FIRE_IN_CLAIM", default=True)

CELERY_BEAT_SCHEDULE = {
    "enforce-deadlines": {
        "task": "disputes.tasks.enforce_deadlines",
        "schedule": float(DEADLINE_SWEEP_INTERVAL_SECONDS),
        # A sweep that waited longer than one interval in the queue is stale: the next one covers it.
        "options": {"expires": float(DEADLINE_SWEEP_INTERVAL_SECONDS)},
    },
}

# Values the rulebook marks as **decision**: operators override them here, as JSON keyed by the
# names in core/rulebook.py (e.g. RULEBOOK_DECISIONS='{"R-T02.hours": 24}').
RULEBOOK_DECISIONS = env.json("RULEBOOK_DECISIONS", default={})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Evidence (RULEBOOK §7, evidence/) -----------------------------------------------------------
# The largest evidence file accepted; a larger upload answers 413 {"code": "file_too_large"}.
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=20 * 1024 * 1024)
# Images above this many pixels are refused (decompression bombs); thumbnails are at most this size.
EVIDENCE_MAX_IMAGE_PIXELS = env.int("EVIDENCE_MAX_IMAGE_PIXELS", default=60_000_000)
EVIDENCE_THUMBNAIL_SIZE = env.int("EVIDENCE_THUMBNAIL_SIZE", default=320)
# Non-file form fields stay small; uploaded files above 2.5 MiB stream to a temporary file, never RAM.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Any request body above this is refused with 413 before it is read (core/middleware.py); bodies
# other than multipart uploads are held to DATA_UPLOAD_MAX_MEMORY_SIZE.
REQUEST_MAX_BYTES = env.int("REQUEST_MAX_BYTES", default=EVIDENCE_MAX_BYTES + 1024 * 1024)
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
# Evidence files go through the "evidence" storage: MEDIA_ROOT/evidence/<yyyy>/<mm>/<uuid> on local
# disk (MEDIA_URL is never served), or an S3-compatible bucket with EVIDENCE_STORAGE=s3 (needs
# django-storages and boto3; credentials come from boto3's usual AWS_* environment variables).
_EVIDENCE_STORAGE = env.str("EVIDENCE_STORAGE", default="local")
if _EVIDENCE_STORAGE == "s3":
    _evidence_backend: dict = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("EVIDENCE_S3_BUCKET"),
            "endpoint_url": env.str("EVIDENCE_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("EVIDENCE_S3_REGION", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
elif _EVIDENCE_STORAGE == "local":
    _evidence_backend = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise environ.ImproperlyConfigured("EVIDENCE_STORAGE must be 'local' or 's3'")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    **globals().get("STORAGES", {}),
    "evidence": _evidence_backend,
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),  # type: ignore[dict-item]
    "EvidenceKindEnum": "evidence.models.Evidence.Kind",
    "EvidenceVerdictEnum": "evidence.models.Evidence.Verdict",
    # Named so the schema carries no generated names (and `check --deploy` no drf_spectacular.W001).
    "RefundKindEnum": "disputes.models.Refund.Kind",
    "CaseKindEnum": "disputes.models.Case.Kind",
    "CaseStatusEnum": "disputes.models.Case.Status",
    "ComplaintTypeEnum": "disputes.models.Complaint.Type",
    "PartyEnum": ["buyer", "seller"],  # Complaint.Party, request-evidence party, checklist side
    "RegistrationTypeEnum": "aftersales.models.Registration.Type",
    "RegistrationStatusEnum": "aftersales.models.Registration.Status",
    "LogisticsClaimStatusEnum": "aftersales.models.LogisticsClaim.Status",
}
