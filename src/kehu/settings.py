"""Django settings, read from KEHU_* environment variables (and a .env file).

The embedded default is SQLite in KEHU_DATA_DIR with jobs in SQLite too; setting
KEHU_DATABASE_URL and KEHU_REDIS_URL moves the same code to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

from kehu.core.env import (
    ConfigurationError,
    email_settings,
    env_base_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    persistent_secret_key,
)

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent.parent  # the checkout: holds package.json and node_modules

load_dotenv(Path.cwd() / ".env")

TESTING = "pytest" in sys.modules or env_bool("KEHU_TESTING")
DATA_DIR = Path(env_str("KEHU_DATA_DIR", "var")).resolve()
DEBUG = env_bool("KEHU_DEBUG", False)
SECRET_KEY = env_str("KEHU_SECRET_KEY") or persistent_secret_key(DATA_DIR)
ALLOWED_HOSTS = env_list("KEHU_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("KEHU_CSRF_TRUSTED_ORIGINS", [])
REDIS_URL = env_str("KEHU_REDIS_URL")
# The address users reach Kehu at (https://crm.example.cn): links that leave the browser
# (e-mail, robot messages, calendar feeds, survey links, exports) start with it. It wins over
# the admin setting system.base_url (kehu.core.links).
BASE_URL = env_base_url("KEHU_BASE_URL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "huey.contrib.djhuey",
    "ninja",
    "kehu.core",
    "kehu.accounts",
    "kehu.customers",
    "kehu.notifications",
    "kehu.followups",
    "kehu.leads",
    "kehu.opportunities",
    "kehu.transfer",
    "kehu.pools",
    "kehu.contracts",
    "kehu.service",
    "kehu.analytics",
    "kehu.campaigns",
    "kehu.integrations",
    "kehu.governance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kehu.core.middleware.RequestIdMiddleware",
    "kehu.core.middleware.ContentSecurityPolicyMiddleware",
    "kehu.core.middleware.ApiJsonErrorsMiddleware",
    "kehu.core.middleware.NotFoundPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kehu.core.middleware.PrivateCacheMiddleware",
    "kehu.core.request_body.RequestBodyMiddleware",
    "kehu.accounts.middleware.UserLanguageMiddleware",
    "kehu.accounts.middleware.SignInRequirementsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kehu.urls"
WSGI_APPLICATION = "kehu.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Every form in one layout, Bootstrap classes and 请选择 on selects (kehu/core/forms.py).
FORM_RENDERER = "kehu.core.forms.KehuFormRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kehu.core.context_processors.navigation",
            ],
        },
    },
]


# --- Database -------------------------------------------------------------------------------
def _database() -> dict[str, object]:
    url = env_str("KEHU_DATABASE_URL")
    if not url:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DATA_DIR / 'kehu.sqlite3'}"
    try:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=600))
    except ValueError as error:
        raise ConfigurationError(f"KEHU_DATABASE_URL is not a database URL: {error}") from error
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        # WAL lets readers run beside the single writer; IMMEDIATE transactions take the write
        # lock up front so concurrent writers wait (busy timeout) instead of failing mid-way.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;PRAGMA cache_size=-65536;PRAGMA temp_store=MEMORY;"
            ),
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The owner and department indexes INCLUDE the columns reports read, so that PostgreSQL answers
# them from the index alone; SQLite builds the same indexes without those columns, as intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Cache and jobs -------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tests run jobs inline; the queue tests switch immediate mode off to go through the real broker.
JOBS_IMMEDIATE = env_bool("KEHU_JOBS_IMMEDIATE", TESTING)
if REDIS_URL:
    HUEY: dict[str, object] = {
        "huey_class": "huey.RedisHuey",
        "name": "kehu",
        "url": REDIS_URL,
        "immediate": JOBS_IMMEDIATE,
    }
else:
    HUEY = {
        "huey_class": "kehu.core.job_storage.SqliteJobs",
        "name": "kehu",
        "filename": str(DATA_DIR / "jobs.sqlite3"),
        "immediate": JOBS_IMMEDIATE,
    }
HUEY["consumer"] = {"workers": 2, "worker_type": "thread", "periodic": True}

# --- Authentication and security ------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# One validator applies the admin's password policy (settings group "security": length,
# letters and digits, the common-password list, the username) on every password set.
AUTH_PASSWORD_VALIDATORS = [{"NAME": "kehu.accounts.passwords.PolicyValidator"}]
# The authenticator app's label for Kehu's TOTP keys; a code is 6 digits for 30 s, one step of
# clock drift either way is accepted and a used code is refused until its step has passed.
OTP_TOTP_ISSUER = "Kehu"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

# HTTPS behind a TLS-terminating proxy (docs/operations.md, "Running Kehu for a real company"):
# KEHU_HTTPS=true trusts the proxy's X-Forwarded-Proto, redirects plain HTTP to HTTPS, sends
# HSTS and marks the cookies Secure; `kehu manage check --deploy` passes with it.
HTTPS = env_bool("KEHU_HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("KEHU_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("KEHU_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KEHU_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("KEHU_HSTS_PRELOAD", True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("KEHU_SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = env_str("KEHU_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ConfigurationError(f"KEHU_LANGUAGE must be zh-hans or en, not {LANGUAGE_CODE!r}")
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env_str("KEHU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files: our own plus the npm packages of package.json -----------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns at start-up when it is missing
NODE_MODULES = Path(env_str("KEHU_NODE_MODULES", str(PROJECT_DIR / "node_modules")))
VENDOR_ASSETS = {
    "vendor/bootstrap": "bootstrap/dist",
    "vendor/bootstrap-icons": "bootstrap-icons/font",
    "vendor/htmx": "htmx.org/dist",
    "vendor/echarts": "echarts/dist",
    "vendor/sortablejs": "sortablejs",
}
STATICFILES_DIRS = [
    PACKAGE_DIR / "static",
    *((prefix, NODE_MODULES / path) for prefix, path in VENDOR_ASSETS.items()),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A JSON or form body, or a multipart body's fields besides its files; larger answers 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("KEHU_MAX_REQUEST_BODY_MB", 20, minimum=1) * 1024 * 1024

# Robot webhooks on loopback or private addresses (kehu.core.outbound): off, since a webhook URL
# is typed by users; on for installations whose robots run on the internal network.
ALLOW_PRIVATE_WEBHOOKS = env_bool("KEHU_ALLOW_PRIVATE_WEBHOOKS", False)

# --- Imports: hard limits of an import file (docs/operations.md, "Imports and exports") ---------
# (env_int: a value that is not a whole number stops the start with the variable's name)
IMPORT_MAX_FILE_BYTES = env_int("KEHU_IMPORT_MAX_MB", 20, minimum=1) * 1024 * 1024
IMPORT_MAX_ROWS = env_int("KEHU_IMPORT_MAX_ROWS", 200_000, minimum=1)
IMPORT_MAX_COLUMNS = env_int("KEHU_IMPORT_MAX_COLUMNS", 200, minimum=1)
IMPORT_CHECK_SECONDS = env_int("KEHU_IMPORT_CHECK_SECONDS", 600, minimum=1)  # per check phase
IMPORT_MAX_UNZIPPED_BYTES = env_int("KEHU_IMPORT_MAX_UNZIPPED_MB", 200, minimum=1) * 1024 * 1024
IMPORT_MAX_ZIP_RATIO = env_int("KEHU_IMPORT_MAX_ZIP_RATIO", 200, minimum=1)

# --- Email ------------------------------------------------------------------------------------
globals().update(email_settings(env_str("KEHU_EMAIL_URL")))
DEFAULT_FROM_EMAIL = env_str("KEHU_EMAIL_FROM", "Kehu CRM <kehu@localhost>")

# --- API ----------------------------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500
NINJA_PAGINATION_CLASS = "kehu.core.pagination.BoundedLimitOffsetPagination"

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KEHU_LOG_LEVEL", "INFO")},
    "loggers": {
        # With a handler of its own here, `run_huey` leaves the logger as it is; otherwise it
        # adds one and sets INFO, and every periodic task was logged twice a minute.
        "huey": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "axes": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}
