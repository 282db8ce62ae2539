"""Secret tokens kept out of the logs: what a URL carries as a credential is written ``***``.

The follow key of a request (``?cle=``), the address-confirmation token (``?jeton=``), and the tokens in the path
of the set-password and survey links open something without a login: whoever reads an access log could use
them. ``SecretFilter`` rewrites the records of the development server (logger ``werkzeug``), of the application
and of gunicorn (``GuichetLogger`` in gunicorn.conf.py, access and error logs) before any handler sees them.
No Flask import: gunicorn's master loads this module.
"""

from __future__ import annotations

import logging
import re

#: Query parameters whose value is a secret.
SECRET_PARAMETERS = ("cle", "jeton", "token")
#: Path prefixes followed by a secret segment (the set-password link of the portal, the survey link).
SECRET_PATH_PREFIXES = ("/portail/mot-de-passe/", "/enquete/")
MASK = "***"

_PARAMETERS = "|".join(SECRET_PARAMETERS)
_PREFIXES = "|".join(re.escape(p) for p in SECRET_PATH_PREFIXES)
_QUERY = re.compile(rf"([?&;](?:{_PARAMETERS})=)[^&;#\s\"']+", re.IGNORECASE)
_PATH = re.compile(rf"({_PREFIXES})[^/?#\s\"']+")


def redact(text: str) -> str:
    """The text with every secret of a URL in it replaced by ***."""
    if "/" not in text and "=" not in text:
        return text
    return _PATH.sub(r"\1" + MASK, _QUERY.sub(r"\1" + MASK, text))


class SecretFilter(logging.Filter):
    """Rewrite a log record's message and arguments (tuple or mapping, as gunicorn's access log uses)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, dict):
            for key, value in list(args.items()):
                if isinstance(value, str):
                    args[key] = redact(value)
        elif isinstance(args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


#: One instance, so that adding it again (a second app, a gunicorn reload) is a no-op.
SECRET_FILTER = SecretFilter()


def init_app(app) -> None:
    """Filter the development server's access log and the application's own log."""
    for logger in (logging.getLogger("werkzeug"), app.logger):
        logger.addFilter(SECRET_FILTER)
