"""Settings, all from the environment (a `.env` file is read if present).

The embedded default (no variables set) is a laptop demo: SQLite, a local folder as object
store, tasks run in-process, secrets generated once into DATA_DIR. `ENVIRONMENT=production`
generates nothing and refuses to start without real secrets. Names: design.md section 3.

Contents, one block per concern, each structure built once in its block:

 1. Paths and mode          BASE_DIR, ENVIRONMENT, DATA_DIR, BASE_URL
 2. Django core             apps, middleware, templates, languages, static files
 3. Database                DATABASE_URL
 4. Cache                   REDIS_URL (shared with Celery)
 5. Object storage          STORAGE_URL, INBOX_URL, OUTBOX_URL, S3 credentials
 6. Security and sessions   SECRET_KEY, DEBUG, hosts, cookies, headers, accounts, OIDC sign-in
 7. Keys                    the archive's Crypt4GH key, the visa signing key
 8. Passports and trust     TRUSTED_ISSUERS, token and visa ages
 9. API                     REST framework, OpenAPI schema
10. Catalogue and access    accession prefix, applicants' attachments
11. Ingest                  stale runs, retries
12. Downloads and exports   plaintext, link and URL lifetimes
13. Audit                   sealing interval
14. Celery and beat         broker, queues, limits, the schedule (after the apps whose jobs it runs)
15. Mail                    EMAIL_*
16. Operations              /metrics, worker probes, proxies, rate limits
17. Logging                 LOG_FORMAT, LOG_LEVEL
18. FAIR Data Point         GDI_COUNTRY, GDI_ORGANISATION, FDP_*
19. Beacon                  BEACON_*

A setting that checks its value raises ImproperlyConfigured where it is read; the blocks are in
the order that keeps those checks in the order an operator meets them.
"""

import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Exchange, Queue

from gdi_archive.common.env import (
    env_bool,
    env_int,
    env_json,
    env_list,
    env_secret,
    env_str,
)
from gdi_archive.common.issuers import parse_trusted_issuers

# --- 1. Paths and mode ----------------------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

ENVIRONMENT = env_str("ENVIRONMENT", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured(f"ENVIRONMENT must be development or production, not {ENVIRONMENT!r}")
PRODUCTION = ENVIRONMENT == "production"

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
PORT = env_int("PORT", 8000, minimum=1)
HOST = env_str("HOST", "127.0.0.1")
BASE_URL = (env_str("BASE_URL") or ("" if PRODUCTION else f"http://127.0.0.1:{PORT}")).rstrip("/")
if PRODUCTION and not BASE_URL:
    raise ImproperlyConfigured("BASE_URL is required in production")

# --- 2. Django core -------------------------------------------------------------------------------
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
    "gdi_archive.common",
    "gdi_archive.accounts",
    "gdi_archive.audit",
    "gdi_archive.catalogue",
    "gdi_archive.ingest",
    "gdi_archive.access",
    "gdi_archive.passports",
    "gdi_archive.downloads",
    "gdi_archive.operations",
    "gdi_archive.bootstrap",
    "gdi_archive.fdp",
    "gdi_archive.beacon",
]

MIDDLEWARE = [
    "gdi_archive.operations.middleware.RequestIdMiddleware",
    "gdi_archive.operations.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "gdi_archive.operations.middleware.SecurityHeadersMiddleware",
    "gdi_archive.operations.middleware.RateLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gdi_archive.urls"
WSGI_APPLICATION = "gdi_archive.wsgi.application"
ASGI_APPLICATION = "gdi_archive.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gdi_archive" / "templates"],
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("et", "Eesti")]
LOCALE_PATHS = [BASE_DIR / "gdi_archive" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# The site-wide layout's CSS and the vendored htmx (no build step).
STATICFILES_DIRS = [BASE_DIR / "gdi_archive" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- 3. Database ----------------------------------------------------------------------------------
_database = dj_database_url.parse(
    env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
    conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
    conn_health_checks=True,
)
# The embedded default serves several requests at once (runserver threads): take the write
# lock when a transaction starts and wait for it, instead of failing with "database is locked".
_sqlite_options = (
    {"OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}}
    if _database["ENGINE"] == "django.db.backends.sqlite3"
    else {}
)
# PostgreSQL: Django binds parameters client-side and never prepares (its default keeps poolers
# working). A non-None psycopg `prepare_threshold` lets the audit append prepare its one INSERT
# once per connection (audit/services.py); Django's own queries stay unprepared either way. Set
# DATABASE_PREPARED_STATEMENTS=false behind a pooler in transaction mode that does not keep
# prepared statements (PgBouncer before 1.21, or with max_prepared_statements = 0).
_postgres_options = (
    {"OPTIONS": {**_database.get("OPTIONS", {}), "prepare_threshold": 5}}
    if _database["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_PREPARED_STATEMENTS", default=True)
    else {}
)
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database["ENGINE"] = "gdi_archive.common.postgresql"  # the same backend, a cheaper health check
DATABASES = {"default": {**_database, **_sqlite_options, **_postgres_options}}

# --- 4. Cache -------------------------------------------------------------------------------------
# One Redis for the cache and the Celery broker (block 14); without it, memory only.
REDIS_URL = env_str("REDIS_URL")
CACHES = (
    {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "gdi"),
        }
    }
    if REDIS_URL
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)

# --- 5. Object storage ----------------------------------------------------------------------------
STORAGE_URL = env_str("STORAGE_URL", (DATA_DIR / "archive").as_uri())
INBOX_URL = env_str("INBOX_URL", (DATA_DIR / "inbox").as_uri())
OUTBOX_URL = env_str("OUTBOX_URL", (DATA_DIR / "outbox").as_uri())
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL")
S3_REGION = env_str("S3_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1"))
AWS_ACCESS_KEY_ID = env_secret("AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = env_secret("AWS_SECRET_ACCESS_KEY")
INBOX_MAX_BYTES = env_int("INBOX_MAX_BYTES", 200 * 1024**3, minimum=1)


# --- 6. Security and sessions ---------------------------------------------------------------------
def _generated_secret(name: str) -> str:
    """Development only: a random secret kept in DATA_DIR so that restarts keep sessions."""
    path = DATA_DIR / name
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required in production")
    SECRET_KEY = _generated_secret("secret_key")
elif PRODUCTION and (len(SECRET_KEY) < 32 or "insecure" in SECRET_KEY or SECRET_KEY == "changeme"):
    raise ImproperlyConfigured("SECRET_KEY looks like a default or is too short (32+ characters)")

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production")

_base_host = urlsplit(BASE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [_base_host] if PRODUCTION else [_base_host, "127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [f"{urlsplit(BASE_URL).scheme}://{urlsplit(BASE_URL).netloc}"])

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Sign-in through the node's OpenID Connect provider (optional).
OIDC_ISSUER = env_str("OIDC_ISSUER")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET")

# --- 7. Keys --------------------------------------------------------------------------------------
KEYS_DIR = DATA_DIR / "keys"
C4GH_SECRET_KEY_FILES = env_list("C4GH_SECRET_KEY_FILE")
C4GH_PASSPHRASE = env_secret("C4GH_PASSPHRASE")
VISA_SIGNING_KEY_FILES = env_list("VISA_SIGNING_KEY_FILE")
VISA_SIGNING_ALGORITHM = env_str("VISA_SIGNING_ALGORITHM", "RS256")
if VISA_SIGNING_ALGORITHM not in ("RS256", "ES256"):
    raise ImproperlyConfigured("VISA_SIGNING_ALGORITHM must be RS256 or ES256")
if PRODUCTION:
    if not C4GH_SECRET_KEY_FILES or not C4GH_PASSPHRASE:
        raise ImproperlyConfigured("C4GH_SECRET_KEY_FILE and C4GH_PASSPHRASE are required in production")
    if not VISA_SIGNING_KEY_FILES:
        raise ImproperlyConfigured("VISA_SIGNING_KEY_FILE is required in production")

# --- 8. Passports and trust -----------------------------------------------------------------------
# Each entry checked and given its deny-by-default scope (gdi_archive/common/issuers.py).
TRUSTED_ISSUERS = parse_trusted_issuers(env_json("TRUSTED_ISSUERS", []))
PASSPORT_TOKEN_MAX_AGE = env_int("PASSPORT_TOKEN_MAX_AGE", 3600, minimum=60)
VISA_MAX_AGE = env_int("VISA_MAX_AGE", 3600, minimum=60)
# A verified passport's claims are reused (by token hash) until its earliest exp, at most this
# long; revocations and entitlements are still checked on every request (passports/verified_cache.py).
PASSPORT_CACHE_SECONDS = env_int("PASSPORT_CACHE_SECONDS", 300, minimum=0)

# --- 9. API: REST framework and the OpenAPI schema ------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gdi_archive.passports.authentication.PassportAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "gdi_archive.common.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "gdi-archive API",
    "DESCRIPTION": "Controlled-access archive for Crypt4GH-encrypted genomic data.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # API docs assets come from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gdi_archive.operations.schema.add_plain_endpoints",
    ],
    # Several models have a `status` with its own states: name the export's, which two answers share.
    "ENUM_NAME_OVERRIDES": {"ExportStatusEnum": "gdi_archive.downloads.models.Export.Status"},
}

# --- 10. Catalogue and access ---------------------------------------------------------------------
ACCESSION_PREFIX = env_str("ACCESSION_PREFIX", "GDI")
# Applicants' attachments (PDF only): size limit; stored under DATA_DIR/private, never served statically.
ACCESS_ATTACHMENT_MAX_BYTES = env_int("ACCESS_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

# --- 11. Ingest -----------------------------------------------------------------------------------
# An ingest run whose heartbeat is older than this is presumed dead and started again.
INGEST_STALE_SECONDS = env_int("INGEST_STALE_SECONDS", 300, minimum=10)
# First wait before retrying an ingest after a transient storage error (doubles each time).
INGEST_RETRY_DELAY = env_int("INGEST_RETRY_DELAY", 5, minimum=0)

# --- 12. Downloads and exports --------------------------------------------------------------------
PLAINTEXT_DOWNLOADS = env_bool("PLAINTEXT_DOWNLOADS", default=False)
EXPORT_LINK_TTL = env_int("EXPORT_LINK_TTL", 7 * 24 * 3600, minimum=60)
SIGNED_URL_TTL = env_int("SIGNED_URL_TTL", 300, minimum=10)
# An export run whose heartbeat is older than this is presumed dead and started again.
EXPORT_STALE_SECONDS = env_int("EXPORT_STALE_SECONDS", 300, minimum=30)

# --- 13. Audit ------------------------------------------------------------------------------------
# Requests append unsealed events; a beat job chains them this often (docs/reliability.md, "Audit log").
AUDIT_SEAL_SECONDS = env_int("AUDIT_SEAL_SECONDS", 5, minimum=1)

# --- 14. Celery and beat --------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# With no broker the embedded default runs every task in-process, at once.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 6 * 3600, minimum=60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the longest job, so an unacknowledged task is not handed out twice.
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 600,
    # Lets several test runs share one Redis without taking each other's tasks.
    **({"global_keyprefix": env_str("CELERY_KEY_PREFIX")} if env_str("CELERY_KEY_PREFIX") else {}),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery workers log through the same handler (JSON lines with the request id), not their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Long jobs get queues of their own, so a big ingest never delays an email.
CELERY_TASK_ROUTES = {
    "gdi_archive.ingest.tasks.*": {"queue": "ingest"},
    "gdi_archive.downloads.tasks.*": {"queue": "exports"},
    "gdi_archive.beacon.tasks.load_variants": {"queue": "ingest"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
# What a worker consumes when no -Q is given: every queue a task is routed to, and the default
# queue, each its own direct exchange and routing key (as Celery makes a queue named only in a
# route). CELERY_WORKER_QUEUES is not a Celery setting: the same list as a -Q value, for the
# manifests, the tests and the benches.
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)
    for name in sorted({CELERY_TASK_DEFAULT_QUEUE, *(route["queue"] for route in CELERY_TASK_ROUTES.values())})
)
CELERY_WORKER_QUEUES = ",".join(queue.name for queue in CELERY_TASK_QUEUES)

# Scheduled jobs (celery beat), one entry per job, named after its app.
CELERY_BEAT_SCHEDULE = {
    "access-expire-entitlements": {"task": "gdi_archive.access.tasks.expire_entitlements", "schedule": 15 * 60},
    "access-expiry-reminders": {"task": "gdi_archive.access.tasks.send_expiry_reminders", "schedule": 6 * 3600},
    "recover-interrupted-ingests": {
        "task": "gdi_archive.ingest.tasks.recover_interrupted_ingests",
        "schedule": 120.0,
    },
    # Resumable uploads: parts of an upload nobody continued for a day are deleted.
    "ingest-remove-abandoned-uploads": {
        "task": "gdi_archive.ingest.tasks.remove_abandoned_uploads",
        "schedule": 3600.0,
    },
    # Exports: delete outbox copies whose links have expired; start again runs whose worker died.
    "downloads-clean-outbox": {
        "task": "gdi_archive.downloads.tasks.clean_outbox",
        "schedule": 3600.0,
    },
    "recover-interrupted-exports": {
        "task": "gdi_archive.downloads.tasks.recover_interrupted_exports",
        "schedule": 120.0,
    },
    "audit-seal": {"task": "gdi_archive.audit.tasks.seal_log", "schedule": float(AUDIT_SEAL_SECONDS)},
}

# --- 15. Mail -------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "gdi-archive <noreply@localhost>")
# For EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend (one file per message).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))

# --- 16. Operations: /metrics, worker probes, rate limits (gdi_archive/operations) -----------------
# /metrics answers a bearer METRICS_TOKEN; without one, only clients on this machine.
METRICS_TOKEN = env_secret("METRICS_TOKEN")
# A Celery worker serves /health/* and /metrics on this port when it is set (Kubernetes probes).
WORKER_HTTP_PORT = env_int("WORKER_HTTP_PORT", 0, minimum=0)
# How many proxies in front of us append to X-Forwarded-For (the client is that many from the end).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Passwords (sign-in pages, HTTP Basic anywhere; gdi_archive/operations/passwords.py): after
# RATE_LIMIT_SIGNIN failures in RATE_LIMIT_WINDOW seconds for one account from one address, or
# RATE_LIMIT_ADDRESS from one address across accounts, 429 for RATE_LIMIT_DELAY seconds, doubling
# with each further failure up to RATE_LIMIT_MAX_DELAY.
RATE_LIMIT_SIGNIN = env_int("RATE_LIMIT_SIGNIN", 10, minimum=1)
RATE_LIMIT_WINDOW = env_int("RATE_LIMIT_WINDOW", 600, minimum=1)
RATE_LIMIT_ADDRESS = env_int("RATE_LIMIT_ADDRESS", 100, minimum=1)
RATE_LIMIT_DELAY = env_int("RATE_LIMIT_DELAY", 60, minimum=1)
RATE_LIMIT_MAX_DELAY = env_int("RATE_LIMIT_MAX_DELAY", 86400, minimum=1)
AUTHENTICATION_BACKENDS = [
    "gdi_archive.operations.passwords.PasswordGuard",
    "django.contrib.auth.backends.ModelBackend",
]

# --- 17. Logging: JSON lines (or text) with the request id ----------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "text")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG botocore logs each request's signature and canonical query: credentials.
        "botocore": {"level": "INFO"},
    },
    "filters": {"request_id": {"()": "gdi_archive.operations.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "gdi_archive.operations.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
}

# --- 18. FAIR Data Point (gdi_archive/fdp; design.md 7): who publishes, and the node-wide defaults -
# A dataset's FDP identifier is GDI-{GDI_COUNTRY}-{GDI_ORGANISATION}-{n}; in production both are required.
GDI_COUNTRY = env_str("GDI_COUNTRY", None if PRODUCTION else "EE")
GDI_ORGANISATION = env_str("GDI_ORGANISATION", None if PRODUCTION else "DEMO")
if PRODUCTION and not (GDI_COUNTRY and GDI_ORGANISATION):
    raise ImproperlyConfigured(
        "GDI_COUNTRY and GDI_ORGANISATION are required in production (FAIR Data Point identifiers)"
    )
if GDI_COUNTRY and not re.fullmatch(r"[A-Z]{2}", GDI_COUNTRY):
    raise ImproperlyConfigured(
        f"GDI_COUNTRY must be a two-letter country code in capitals (ISO 3166-1), not {GDI_COUNTRY!r}"
    )
if GDI_ORGANISATION and not re.fullmatch(r"[A-Z]+", GDI_ORGANISATION):
    raise ImproperlyConfigured(
        f"GDI_ORGANISATION must be capital letters only (the GDI identifier pattern), not {GDI_ORGANISATION!r}"
    )
# The publisher of every dataset unless a steward names another; creator and contact point default to it.
FDP_PUBLISHER_NAME = env_str("FDP_PUBLISHER_NAME", None if PRODUCTION else "GDI demo node (gdi-archive)")
if PRODUCTION and not FDP_PUBLISHER_NAME:
    raise ImproperlyConfigured("FDP_PUBLISHER_NAME is required in production (the FAIR Data Point publisher)")
FDP_PUBLISHER_EMAIL = env_str("FDP_PUBLISHER_EMAIL", None if PRODUCTION else "gdi-demo@example.org")
FDP_PUBLISHER_ID = env_str("FDP_PUBLISHER_ID")  # a URL, e.g. the organisation's ROR id
FDP_HEALTH_CATEGORY = env_list("FDP_HEALTH_CATEGORY", ["http://data.gdi.eu/core/p2/HealthCategoryHumanGenomic"])
FDP_THEME = env_list("FDP_THEME", ["http://publications.europa.eu/resource/authority/data-theme/HEAL"])
FDP_APPLICABLE_LEGISLATION = env_list("FDP_APPLICABLE_LEGISLATION", ["http://data.europa.eu/eli/reg/2025/327/oj"])
FDP_TITLE = env_str("FDP_TITLE", f"{FDP_PUBLISHER_NAME or 'gdi-archive'} FAIR Data Point")
FDP_DESCRIPTION = env_str("FDP_DESCRIPTION", "Controlled-access human genomic datasets of this GDI national node.")
FDP_CATALOG_TITLE = env_str("FDP_CATALOG_TITLE", f"{FDP_PUBLISHER_NAME or 'gdi-archive'} genomic datasets")
FDP_CATALOG_DESCRIPTION = env_str(
    "FDP_CATALOG_DESCRIPTION",
    "Human genomic datasets held by this node; access is decided by each dataset's Data Access Committee.",
)
FDP_HOMEPAGE = env_str("FDP_HOMEPAGE", f"{BASE_URL}/datasets")
FDP_LANGUAGE = env_str("FDP_LANGUAGE", "http://publications.europa.eu/resource/authority/language/ENG")
FDP_KEYWORDS = env_list("FDP_KEYWORDS", ["genomics", "GDI"])
# Beside the node's catalog, one catalog per Data Access Committee (its released datasets).
FDP_CATALOG_PER_DAC = env_bool("FDP_CATALOG_PER_DAC", default=False)
# The licence of the metadata (not the data): the catalogue is meant to be harvested and reused.
FDP_LICENSE = env_str("FDP_LICENSE", "http://creativecommons.org/publicdomain/zero/1.0/")
# The GDI metadata SHACL shapes the records are validated against at release: the *.ttl files of
# `Formulasation(shacl)/core/PiecesShape` in GenomicDataInfrastructure/gdi-metadata. They are not
# shipped with the archive: the operator places them and names the folder. Unset, the shared
# standards folder is looked for ($GDI_SHARED_DIR, else <repo>/../shared). A folder named but
# empty stops the start; none found stops production (release would be refused anyway); in
# development, releases go ahead unvalidated with a warning (docs: README "Being found").
GDI_SHAPES_SUBDIR = Path("standards", "gdi-metadata-shacl", "Formulasation(shacl)", "core", "PiecesShape")


def _fdp_shapes_dir() -> str | None:
    named = env_str("FDP_SHAPES_DIR")
    if named:
        if not any(Path(named).glob("*.ttl")):
            raise ImproperlyConfigured(
                f"FDP_SHAPES_DIR={named} holds no SHACL shapes (*.ttl): put the GDI metadata shapes there "
                "(Formulasation(shacl)/core/PiecesShape of GenomicDataInfrastructure/gdi-metadata)"
            )
        return named
    shared = env_str("GDI_SHARED_DIR") or str(BASE_DIR.parent / "shared")
    found = Path(shared) / GDI_SHAPES_SUBDIR
    if any(found.glob("*.ttl")):
        return str(found)
    if PRODUCTION:
        raise ImproperlyConfigured(
            "FDP_SHAPES_DIR is required in production: the folder of the GDI metadata SHACL shapes "
            "(Formulasation(shacl)/core/PiecesShape of GenomicDataInfrastructure/gdi-metadata); releases "
            "are validated against them"
        )
    return None


FDP_SHAPES_DIR = _fdp_shapes_dir()

# --- 19. Beacon v2 (gdi_archive/beacon): counts and allele frequencies from the archive's VCF/BCF --
# Counts (and a population's allele count) under this are never shown; reported as not found.
BEACON_MIN_COUNT = env_int("BEACON_MIN_COUNT", 5, minimum=1)
# Entry queries per person (or client address, anonymous) in 24 hours from their first counted
# query (one Redis counter with that expiry); past it, 429 with Retry-After: when the window ends.
BEACON_QUERY_BUDGET = env_int("BEACON_QUERY_BUDGET", 1000, minimum=1)
# Operators may turn the sensitive entry type off, or refuse every anonymous query.
BEACON_INDIVIDUALS = env_bool("BEACON_INDIVIDUALS", True)
BEACON_REQUIRE_PASSPORT = env_bool("BEACON_REQUIRE_PASSPORT", False)
# For VCFs whose header names no assembly.
BEACON_DEFAULT_ASSEMBLY = env_str("BEACON_DEFAULT_ASSEMBLY", "GRCh38")
BEACON_ID = env_str(
    "BEACON_ID", "org.gdi.archive." + (BASE_URL.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "local")
)
BEACON_NAME = env_str("BEACON_NAME", "gdi-archive Beacon")
BEACON_ORGANISATION = env_str("BEACON_ORGANISATION", "gdi-archive node")
BEACON_MAX_PAGE = env_int("BEACON_MAX_PAGE", 100, minimum=1)
