"""Locale and time-zone selection, and template filters for dates shown in Europe/Paris."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, request, session
from flask_babel import format_datetime, format_decimal, get_locale
from flask_login import current_user
from markupsafe import Markup


def select_locale() -> str:
    """The user's chosen language, else the session's, else the browser's best match, else French."""
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


def init_app(app: Flask) -> None:
    """Register the template filters and globals of the shell."""
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(datetime_tag, "datetime_tag")
    app.add_template_filter(lambda v: format_decimal(v), "number")
    app.add_template_global(lambda: str(get_locale()), "current_locale")
