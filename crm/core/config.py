"""Configuration: defaults in code, overridden by the environment (DATABASE_URL, SECRET_KEY, GUICHET_*)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - refused in production by check_config()


class ConfigError(RuntimeError):
    """The configuration cannot be used to start the service."""


class Config:
    """Defaults for every environment; the environment overrides them in create_app()."""

    ENV_NAME = "development"
    SECRET_KEY = DEFAULT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI: str | None = None  # set from DATABASE_URL or the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    LANGUAGES = ("fr", "en")
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_LOGIN = "10 per minute;50 per hour"
    RATELIMIT_PUBLIC_FORM = "10 per minute;100 per day"
    RATELIMIT_ENABLED = True
    # Attachments on requests and messages.
    ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    ATTACHMENT_MAX_FILES = 5
    ATTACHMENT_EXTENSIONS = ("pdf", "png", "jpg", "jpeg", "txt", "csv", "odt", "ods", "docx", "xlsx")
    UPLOAD_FOLDER: str | None = None  # defaults to instance/uploads
    # SLA
    SLA_AT_RISK_SHARE = 0.75
    REOPEN_WINDOW_DAYS = 14
    # API
    API_TITLE = "Guichet API"
    API_VERSION = "1.0"
    OPENAPI_VERSION = "3.0.3"
    # Public base URL used in e-mails and secret links.
    BASE_URL = "http://127.0.0.1:5000"
    # Outgoing mail.
    SMTP_HOST = "127.0.0.1"
    SMTP_PORT = 1025
    SMTP_STARTTLS = False
    SMTP_SSL = False
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_TIMEOUT = 10
    MAIL_SENDER = "Guichet <guichet@agence.example>"
    # Incoming mail (IMAP).
    IMAP_HOST: str | None = None
    IMAP_PORT = 993
    IMAP_SSL = True
    IMAP_USERNAME: str | None = None
    IMAP_PASSWORD: str | None = None
    IMAP_FOLDER = "INBOX"
    IMAP_STARTTLS = False
    IMAP_TIMEOUT = 30
    IMAP_PROCESSED_FOLDER = "Traites"  # processed messages are moved here
    IMAP_QUARANTINE_FOLDER = "Quarantaine"  # messages that could not be processed
    IMAP_MAX_MESSAGE_BYTES = 30 * 1024 * 1024
    IMAP_BATCH = 50
    # Outbox, notifications and scheduled jobs (notifications package).
    OUTBOX_MAX_ATTEMPTS = 8
    OUTBOX_BACKOFF_SECONDS = 60
    OUTBOX_BACKOFF_MAX_SECONDS = 6 * 3600
    OUTBOX_BATCH = 100
    OUTBOX_SENDING_TIMEOUT_SECONDS = 900
    OUTBOX_KICK_AFTER_COMMIT = True
    OUTBOX_RETENTION_DAYS = 30
    OUTBOX_DISPATCH_SECONDS = 10
    MAIL_FETCH_SECONDS = 60
    DIGEST_TIME = "08:00"
    UNASSIGNED_ALERT_MINUTES = 240
    NOTIFICATION_RETENTION_DAYS = 180
    ATTACHMENT_RETENTION_DAYS = 0  # 0 keeps attachments of closed tickets forever
    SURVEY_VALID_DAYS = 14
    SURVEY_LOW_SCORE = 2
    # Nightly import of the business systems' files.
    IMPORT_DIR: str | None = None
    IMPORT_TIME = "02:30"
    # Knowledge base.
    KB_REFRESH_SECONDS = 5
    KB_AUTO_ANSWER_CONFIDENCE = 0.8


class TestConfig(Config):
    """Settings for the test suite."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SERVER_NAME = "localhost"
    BASE_URL = "http://localhost"


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(name: str, raw: str) -> bool:
    """Parse a boolean strictly; anything but the usual spellings is an error."""
    value = raw.strip().lower()
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    raise ConfigError(f"{name}: valeur booléenne attendue (true/false), reçu {raw!r}")


def coerce(name: str, raw: str, default: object) -> object:
    """Convert an environment string to the type of the code default."""
    if isinstance(default, bool):
        return parse_bool(name, raw)
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}: nombre entier attendu, reçu {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name}: nombre attendu, reçu {raw!r}") from None
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def load_environment(config: dict, environ: os._Environ | dict | None = None) -> None:
    """Apply DATABASE_URL, SECRET_KEY and GUICHET_<KEY> variables onto the config, typed strictly."""
    environ = os.environ if environ is None else environ
    if environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(environ["DATABASE_URL"])
    if environ.get("SECRET_KEY"):
        config["SECRET_KEY"] = environ["SECRET_KEY"]
    for name, raw in environ.items():
        if not name.startswith("GUICHET_"):
            continue
        key = name.removeprefix("GUICHET_")
        default = config.get(key)
        config[key] = coerce(name, raw, default) if default is not None else raw


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def check_config(config: dict) -> None:
    """Refuse settings that are unsafe in production."""
    secret = config.get("SECRET_KEY") or ""
    if config.get("ENV_NAME") == "production" and (secret == DEFAULT_SECRET_KEY or len(secret) < 32):
        raise ConfigError(
            "SECRET_KEY doit être défini (32 caractères au moins) en production ; la clé par défaut est refusée."
        )


def default_database_uri(instance_path: str) -> str:
    """The embedded SQLite database under instance/."""
    return "sqlite:///" + str(Path(instance_path) / "guichet.sqlite3")
