"""Locale and time-zone selection, and the formatting helpers (dates in Europe/Paris, amounts, numbers, sizes).

Every value a page shows goes through one of these filters, so that one locale formats it one way everywhere:
dates as ``19/10/2026`` (``19 Oct 2026`` in English), times without seconds, always in Europe/Paris, decimals
with the locale's separator (``39,8 %``), file sizes in the locale's unit (``1 Ko``, ``1 KB``).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import support
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import (
    Domain,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    get_locale,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

#: One date pattern and one time pattern per language (never a two-digit year, never seconds).
DATE_PATTERNS = {"fr": "dd/MM/yyyy", "en": "d MMM yyyy"}
TIME_PATTERNS = {"fr": "HH:mm", "en": "h:mm a"}
DATETIME_PATTERNS = {"fr": "{date} {time}", "en": "{date}, {time}"}
#: The session key of the language chosen before logging in (kept across login and logout).
LANG_KEY = "lang"
#: Flask-Login's message when a page needs an account (its own is in English).
LOGIN_MESSAGE = _l("Connectez-vous pour accéder à cette page.")


def select_locale() -> str:
    """The user's chosen language, else the session's, else the browser's best match, else French."""
    if not has_request_context():  # commands and jobs: messages in the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    if session.get(LANG_KEY) in languages:
        return session[LANG_KEY]
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    """Every time is shown in Europe/Paris."""
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _language() -> str:
    locale = get_locale()
    language = locale.language if locale is not None else "fr"
    return language if language in DATE_PATTERNS else "fr"


def _is_time_format(fmt: str) -> bool:
    """Named formats and Babel patterns with hours show a time; "date" and patterns without hours do not."""
    return fmt in ("short", "medium", "long", "datetime") or "H" in fmt or "h" in fmt


def localtime(value: datetime | None, fmt: str = "datetime") -> str:
    """An aware UTC instant in Europe/Paris, in the one date-and-time format of the locale; empty for None.

    ``fmt`` "date" (or any pattern without hours, as older templates pass) gives the date alone, "time" the time
    alone; anything else the date and the time, never with seconds.
    """
    if value is None:
        return ""
    language = _language()
    if fmt == "time":
        return format_datetime(value, TIME_PATTERNS[language])
    if not _is_time_format(fmt):
        return format_datetime(value, DATE_PATTERNS[language])
    return DATETIME_PATTERNS[language].format(date=format_datetime(value, DATE_PATTERNS[language]),
                                              time=format_datetime(value, TIME_PATTERNS[language]))


def datetime_tag(value: datetime | None, fmt: str = "datetime") -> Markup:
    """A <time> element with the ISO instant and the localised text."""
    if value is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), localtime(value, fmt))


def paris_today() -> date:
    """Today's date in the display zone (deliverables are late from the day after their due date)."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def euro(value: Decimal | float | None) -> str:
    """An amount in euros in the user's locale; empty for None."""
    return "" if value is None else format_currency(value, "EUR")


def day(value: date | datetime | None) -> str:
    """A calendar date in the user's locale (an instant: its date in Europe/Paris); empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return localtime(value, "date")
    return format_date(value, DATE_PATTERNS[_language()])


def number(value: float | Decimal | int | None, digits: int = 3) -> str:
    """A number with the locale's separators, at most ``digits`` decimals ("4,13"); empty for None."""
    if value is None:
        return ""
    return format_decimal(value, "#,##0" + ("." + "#" * digits if digits > 0 else ""))


def percent(ratio: float | Decimal | None, digits: int = 0) -> str:
    """A share (0.398) as a percentage in the locale ("39,8 %" with digits=1), rounded down: 99.9 % is not 100 %."""
    if ratio is None:
        return "—"
    scale = 10 ** (digits + 2)
    floored = math.floor(float(ratio) * scale + 1e-9) / scale
    pattern = get_locale().percent_formats[None].pattern if get_locale() is not None else "#,##0 %"
    if digits > 0:
        pattern = pattern.replace("#,##0", "#,##0." + "#" * digits, 1)
    return format_percent(floored, pattern)


def filesize(size: int | None) -> str:
    """A file size in the locale's units: "850 octets", "12 Ko", "3,4 Mo" ("12 KB" in English)."""
    if size is None:
        return ""
    if size < 1024:
        return _("%(n)s octets", n=format_decimal(size))
    if size < 1024 * 1024:
        return _("%(n)s Ko", n=format_decimal(math.ceil(size / 1024)))
    return _("%(n)s Mo", n=number(size / (1024 * 1024), 1))


class _SourcePlurals(support.NullTranslations):
    """French is the source language: a message without a catalogue entry takes the singular for 0 and 1.

    gettext's own fallback picks the singular for 1 only, which gives "0 projets trouvés".
    """

    def ngettext(self, singular, plural, n):
        return singular if abs(n) < 2 else plural

    ungettext = ngettext

    def npgettext(self, context, singular, plural, n):
        return singular if abs(n) < 2 else plural

    unpgettext = npgettext


class SourcePluralDomain(Domain):
    """The message domain whose translations fall back on French plural rules."""

    def get_translations(self):
        translations = super().get_translations()
        if not getattr(translations, "_source_plurals", False):
            translations.add_fallback(_SourcePlurals())
            translations._source_plurals = True
        return translations


_wtforms_translations: dict[str, support.Translations] = {}


def _cache_wtforms_translations() -> None:
    """WTForms' own messages (« Ce champ est requis. ») read from disk once per process and locale: Flask-WTF
    (flask_wtf.i18n) loads the catalogue again for every request with a form unless the request holds it. Only for
    requests that send a form: the locale is not worked out (nor the signed-in user loaded) for the others, and a
    GET that renders a form still gets the catalogue from Flask-WTF itself."""
    from wtforms.i18n import messages_path

    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    locale = str(get_locale())
    if locale not in _wtforms_translations:
        _wtforms_translations[locale] = support.Translations.load(messages_path(), [locale], domain="wtforms")
    request.wtforms_translations = _wtforms_translations[locale]


def init_app(app: Flask) -> None:
    """Register the template filters and globals of the shell, and the French plural rule."""
    from crm.core.extensions import babel

    app.before_request(_cache_wtforms_translations)
    babel.domain_instance = SourcePluralDomain(domain=app.config.get("BABEL_DOMAIN", "messages"))
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(datetime_tag, "datetime_tag")
    app.add_template_filter(euro, "euro")
    app.add_template_filter(day, "day")
    app.add_template_filter(number, "number")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(filesize, "filesize")
    app.add_template_global(lambda: str(get_locale()), "current_locale")
