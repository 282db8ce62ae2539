"""Locale and time-zone selection, and the formatting helpers (dates in Europe/Paris, amounts, numbers)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale
from flask_login import current_user
from markupsafe import Markup


def select_locale() -> str:
    """The user's chosen language, else the session's, else the browser's best match, else French."""
    if not has_request_context():  # commands and jobs: messages in the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    """Every time is shown in Europe/Paris."""
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def localtime(value: datetime | None, fmt: str = "medium") -> str:
    """Format an aware UTC instant in the display zone and locale; empty for None."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def datetime_tag(value: datetime | None, fmt: str = "medium") -> Markup:
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


def day(value: date | None) -> str:
    """A calendar date in the user's locale; empty for None."""
    return "" if value is None else format_date(value, "short")


def init_app(app: Flask) -> None:
    """Register the template filters and globals of the shell."""
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(datetime_tag, "datetime_tag")
    app.add_template_filter(euro, "euro")
    app.add_template_filter(day, "day")
    app.add_template_filter(lambda v: format_decimal(v), "number")
    app.add_template_global(lambda: str(get_locale()), "current_locale")
