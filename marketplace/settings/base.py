"""
Settings for the marketplace back office.

Every value comes from the environment (django-environ) with a safe local default, so
that a fresh checkout runs with no service installed: SQLite, email to the console,
Celery over kombu's filesystem transport, Stripe pointed at a localstripe on loopback.
Production sets DEBUG=0 and must then provide the secrets; a missing, public (a default
written in this repository) or malformed value stops the process at start with a message
naming the variable.
"""

from datetime import date, timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _require_url(name, value, schemes):
    """Fail at start, naming the variable, when a URL setting has an unknown scheme."""
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} is not a valid URL ({value!r}): expected one of the schemes "
            f"{', '.join(sorted(schemes))}, e.g. {name}={sorted(schemes)[0]}://..."
        )
    return value


# Every secret value this repository writes down (defaults, README, docker-compose, the
# Dockerfile's build step, the test suite). They are public, so production refuses them.
PUBLIC_SECRETS = frozenset(
    {
        "insecure-local-only-key-do-not-use-in-production",
        "sk_test_localstripe",
        "whsec_localstripe",
        "collectstatic",
        "change-me",
        "changeme",
        "secret",
    }
)


def _require_secret(name: str, value: str, *, prefixes: tuple[str, ...] = (), min_length: int = 0) -> str:
    """With DEBUG off, stop the start, naming the variable, when a secret is empty, public,
    too short to be a real key, or lacks the prefix its issuer gives every key."""
    problem = None
    if not value:
        problem = "must be set when DEBUG is off"
    elif value in PUBLIC_SECRETS or value.lower() in PUBLIC_SECRETS:
        problem = "is a public default value (written in this repository); generate a new one"
    elif prefixes and not value.startswith(prefixes):
        problem = f"does not look like a real key: it must start with {' or '.join(prefixes)}"
    elif len(value) < min_length:
        problem = f"is too short to be a real key: at least {min_length} characters"
    elif len(set(value.removeprefix(next((p for p in prefixes if value.startswith(p)), "")))) < 5:
        problem = "is not random enough to be a real key (fewer than 5 different characters)"
    if problem:
        raise ImproperlyConfigured(f"{name} {problem}.")
    return value


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=True)

_INSECURE_LOCAL_KEY = "insecure-local-only-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not DEBUG:
    # Django's own deploy check asks for 50 characters; it signs sessions, buyer links
    # and card links, so a guessable one lets anyone forge them.
    if SECRET_KEY.startswith("django-insecure-"):
        raise ImproperlyConfigured("SECRET_KEY is Django's generated development key; generate a new one.")
    _require_secret("SECRET_KEY", SECRET_KEY, min_length=50)
SECRET_KEY = SECRET_KEY or _INSECURE_LOCAL_KEY

SITE_URL = _require_url(
    "SITE_URL", env.str("SITE_URL", default="http://127.0.0.1:8000"), {"http", "https"}
).rstrip("/")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "marketplace.admin_site.MarketplaceAdminConfig",  # django.contrib.admin with the product's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_fsm_log",
    "django_celery_beat",
    "post_office",
    "axes",
    "csp",
    "marketplace",
    "stripe_integration",
    "accounts",
    "orders",
    "billing",
    "finance",
    "payouts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "marketplace.middleware.RefuseNulCharacters",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Dates on every page in the platform timezone (Payout Cycle Settings).
    "marketplace.platform_time.PlatformTimezoneMiddleware",
    "marketplace.error_pages.FriendlyNotFoundMiddleware",
    "marketplace.csp.StripeCSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

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
                "marketplace.context_processors.platform",
            ],
        },
    },
    {
        # Plain-text email bodies and subjects (marketplace.emails): the same templates,
        # rendered without HTML escaping, so "It's lost & broken" arrives as typed. Found
        # only by name (`using="text"`); pages never render through it.
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"autoescape": False},
    },
]

# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------

DATABASE_URL = _require_url(
    "DATABASE_URL",
    env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
    {"sqlite", "postgres", "postgresql", "pgsql", "psql"},
)
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file in the embedded default. IMMEDIATE makes a
    # writer take the lock when its transaction starts instead of failing mid-way, and
    # the timeout lets the others wait for it rather than raise "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Users and authentication
# ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out username and address before any password is
# checked, on the sign-in page and the admin's alike (both go through authenticate()).
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one email
# from one address, that pair is locked out for LOGIN_LOCKOUT_MINUTES; each failure during
# the lockout starts the wait again. Locking the pair, not the email alone, means a stranger
# cannot lock a seller out of their account from elsewhere. Staff see the lockouts under
# Admin > Axes > Access attempts (filter "Locked out") and lift one by deleting it, or with
# `manage.py axes_reset_username EMAIL`.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Wider limits, higher (accounts/throttling.py): failures from one address at any accounts
# (password spraying), and at one account from any addresses (a botnet). Neither pauses an
# account at an address it has signed in from before, so a stranger cannot lock a seller out.
AXES_HANDLER = "accounts.throttling.LoginThrottleHandler"
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
LOGIN_ACCOUNT_FAILURE_LIMIT = env.int("LOGIN_ACCOUNT_FAILURE_LIMIT", default=20)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
AXES_VERBOSE = False  # its banner would open every command's output
# The email typed is stored lowercased, as accounts are, so "Seller@x" and "seller@x" count together.
AXES_USERNAME_CALLABLE = "accounts.throttling.login_username"
# Behind N reverse proxies that append to X-Forwarded-For, the client is the Nth address
# from the right; with none (the default) it is the connection's address.
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip"
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# django-axes keeps the query string and form fields of each failed sign-in; it always
# masks "password". Mask what else a form asking for the password again could carry.
AXES_SENSITIVE_PARAMETERS = ["iban", "bic", "routing_number", "account_number", "holder_name"]
# The payout settings' own limit on wrong passwords (payouts/password_limit.py): after
# this many within the pause, changing where the money goes is paused for that long.
PAYOUT_PASSWORD_FAILURE_LIMIT = env.int("PAYOUT_PASSWORD_FAILURE_LIMIT", default=3)
PAYOUT_PASSWORD_PAUSE_MINUTES = env.int("PAYOUT_PASSWORD_PAUSE_MINUTES", default=15)

# ---------------------------------------------------------------------------
# Internationalisation. Instants are stored in UTC; business dates (available_on,
# payout_on) use the platform timezone held in the Payout Cycle Settings.
# ---------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date style everywhere: "6 Dec 2026", "6 Dec 2026, 14:05" (marketplace/formats/en).
FORMAT_MODULE_PATH = ["marketplace.formats"]
# The currencies the admin offers as filter choices (any other still filters when typed
# into the address); listing them saves a DISTINCT over millions of orders.
MARKETPLACE_CURRENCIES = env.list("MARKETPLACE_CURRENCIES", default=["USD", "EUR", "GBP"])

# ---------------------------------------------------------------------------
# Static files: served by WhiteNoise, so gunicorn needs no separate file server.
# ---------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
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

# ---------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------

EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
_require_url("EMAIL_URL", EMAIL_URL, set(environ.Env.EMAIL_SCHEMES))
globals().update(env.email_url_config(EMAIL_URL))
# Development: each email as an .eml file in this folder (open it in any mail program),
# plus one readable line in the worker's log. `make run` sets var/mail when EMAIL_URL is
# not given. Overrides EMAIL_URL's backend.
EMAIL_DIR = env.str("EMAIL_DIR", default="")
if EMAIL_DIR:
    EMAIL_BACKEND = "marketplace.mail_files.EmlFileBackend"
    EMAIL_FILE_PATH = EMAIL_DIR
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Marketplace <no-reply@marketplace.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# An SMTP server that stops answering must not hold the outbox sender for long.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# Emails are rows in django-post-office's queue, written in the transaction that causes
# them and sent by our own sender task (marketplace/outbox_send.py), never by post_office's
# Celery hook or `send_queued_mail`. Its backend is the real one from EMAIL_URL; a failed
# send is requeued RETRY_INTERVAL later, up to MAX_RETRIES times, then marked failed
# (the admin's Post Office > Emails lists it and can requeue it).
POST_OFFICE = {
    "BACKENDS": {"default": EMAIL_BACKEND},  # noqa: F821 (set from EMAIL_URL above)
    "CELERY_ENABLED": False,
    "MAX_RETRIES": env.int("EMAIL_MAX_RETRIES", default=8),
    "RETRY_INTERVAL": timedelta(minutes=env.int("EMAIL_RETRY_INTERVAL_MINUTES", default=10)),
    "DEFAULT_PRIORITY": "medium",
    "LOG_LEVEL": 2,
}

# ---------------------------------------------------------------------------
# Celery. The embedded default uses kombu's filesystem transport: the web process,
# the worker and beat exchange messages through files under var/, no server needed.
# Time-based work lives in the database and is polled by beat (django-celery-beat).
# ---------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_require_url("CELERY_BROKER_URL", CELERY_BROKER_URL, {"filesystem", "redis", "rediss", "memory"})
if CELERY_BROKER_URL == "filesystem://":
    # The files need no host, but kombu logs "No hostname was supplied. Reverting to default
    # 'localhost'" for every connection without one (at `make run`'s start, among others).
    CELERY_BROKER_URL = "filesystem://localhost/"
CELERY_BROKER_DIR = VAR_DIR / "celery-broker"
# A web request publishes at most one message per committed transaction (the outbox's
# "deliver" task). A Redis that is down or hung must cost it about a second, never more:
# short socket timeouts, and one connection try (`max_retries: 0`; the worker's own
# reconnect loop follows broker_connection_max_retries, not this).
_BROKER_TIMEOUT = env.float("CELERY_BROKER_TIMEOUT_SECONDS", default=1.0)
BROKER_REDIS_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": _BROKER_TIMEOUT,
    "socket_timeout": _BROKER_TIMEOUT,
    "max_retries": 0,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        # Celery's control and pidbox exchanges; kombu's default is ./control in the cwd.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = BROKER_REDIS_TRANSPORT_OPTIONS
# No publish retries: what was not published is in the outbox and the sweep sends it.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# ---------------------------------------------------------------------------
# Stripe. The embedded default talks to localstripe on loopback (`make run` starts it).
# ---------------------------------------------------------------------------

STRIPE_API_BASE = _require_url(
    "STRIPE_API_BASE", env.str("STRIPE_API_BASE", default="http://127.0.0.1:8420"), {"http", "https"}
).rstrip("/")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="pk_test_localstripe")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
if not DEBUG:
    # Stripe's secret keys start sk_live_/sk_test_ (restricted keys rk_live_/rk_test_) and
    # webhook signing secrets whsec_, each followed by a long random part.
    _require_secret(
        "STRIPE_SECRET_KEY", STRIPE_SECRET_KEY, prefixes=("sk_live_", "sk_test_", "rk_"), min_length=32
    )
    _require_secret("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET, prefixes=("whsec_",), min_length=32)
STRIPE_SECRET_KEY = STRIPE_SECRET_KEY or "sk_test_localstripe"
STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET or "whsec_localstripe"
# Stripe's own limits (https://docs.stripe.com/rate-limits): 100 requests per second in
# live mode, 25 in test mode. Stay under the test-mode figure unless told otherwise.
STRIPE_MAX_REQUESTS_PER_SECOND = env.float("STRIPE_MAX_REQUESTS_PER_SECOND", default=20.0)
# Redis holding the pacer every process shares; empty means the broker when it is Redis.
STRIPE_PACER_URL = env.str("STRIPE_PACER_URL", default="")
STRIPE_TIMEOUT_SECONDS = env.int("STRIPE_TIMEOUT_SECONDS", default=20)
# Transport failures retried inside one call (same idempotency key), with backoff.
STRIPE_TRANSPORT_RETRIES = env.int("STRIPE_TRANSPORT_RETRIES", default=2)
STRIPE_RETRY_BACKOFF_SECONDS = env.float("STRIPE_RETRY_BACKOFF_SECONDS", default=0.5)
# Prefix of every idempotency key; change it only when pointing a fresh database at a
# Stripe account that an earlier database already used (its keys would collide).
STRIPE_IDEMPOTENCY_NAMESPACE = env.str("STRIPE_IDEMPOTENCY_NAMESPACE", default="mkt")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe.js for the card page: Stripe's own, or the copy a Stripe-compatible server serves.
STRIPE_JS_URL = env.str(
    "STRIPE_JS_URL",
    default="https://js.stripe.com/v3/"
    if STRIPE_API_BASE == "https://api.stripe.com"
    else f"{STRIPE_API_BASE}/js.stripe.com/v3/",
)
# Charges in flight at once in process_transactions (PostgreSQL; SQLite runs one at a time).
BILLING_CONCURRENCY = env.int("BILLING_CONCURRENCY", default=8)
# Processes the loop forks for a big backlog (PostgreSQL), each running BILLING_CONCURRENCY threads.
BILLING_PROCESSES = env.int("BILLING_PROCESSES", default=1)
# Who charges the customer: the name on the card page, receipts and billing emails.
PLATFORM_NAME = env.str("PLATFORM_NAME", default="Marketplace")
# How long the "update your card" link in billing emails works.
BILLING_LINK_MAX_AGE_DAYS = env.int("BILLING_LINK_MAX_AGE_DAYS", default=14)
# Calls to Stripe the card page of one invoice may cause per minute, whoever holds its
# links. Saving a card takes three, a page waiting for the bank's check one per visit; a
# customer who fails the check, reloads and pays with another card takes eight.
BILLING_CARD_PAGE_STRIPE_CALLS_PER_MINUTE = env.int("BILLING_CARD_PAGE_STRIPE_CALLS_PER_MINUTE", default=10)

# The first date a payout can be made on: the platform did not exist before it, so
# `run_payouts` refuses earlier dates (a typo such as 0001-01-01 would write empty runs).
try:
    PAYOUTS_FIRST_DATE = date.fromisoformat(env.str("PAYOUTS_FIRST_DATE", default="2026-01-01"))
except ValueError:
    raise ImproperlyConfigured("PAYOUTS_FIRST_DATE is not a date: use YYYY-MM-DD, e.g. 2026-01-01.") from None

# ---------------------------------------------------------------------------
# Security in production
# ---------------------------------------------------------------------------

# Production served over https (SITE_URL https://...) gets secure cookies, a redirect of
# plain http to https and a year of HSTS by default; each can be set from the environment.
_HTTPS = not DEBUG and SITE_URL.startswith("https://")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_HTTPS)
# Health checks call the container over plain http on loopback.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _HTTPS else 0)
# Both also bind every subdomain of the site's domain to https: set them knowingly.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# The header a TLS-terminating proxy sets to say the request came over https, e.g.
# "X-Forwarded-Proto". Only name one the proxy always sets (and strips from clients):
# anyone could send it otherwise, so none is trusted unless the operator names it, in
# production too (a gunicorn reached directly would otherwise believe any client).
_PROXY_HEADER = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _PROXY_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_HEADER.upper().replace("-", "_"), "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): the product's own files, plus Stripe.js and the
# frames and API it talks to (added per request from STRIPE_JS_URL by
# marketplace.csp.StripeCSPMiddleware), nothing else external. Inline <script>s carry the
# request's nonce. Styles allow inline attributes: the payout bar chart sets widths.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # stripe-python logs every request at INFO; the gateway logs what matters.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}
