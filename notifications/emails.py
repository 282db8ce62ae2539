"""Render e-mails from the FR/EN templates and build the MIME message (text + HTML, threading headers)."""

from __future__ import annotations

import email.policy
import secrets
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app
from flask_babel import force_locale, format_datetime

SUPPORTED_LOCALES = ("fr", "en")
# Long lines folded at RFC 5322's hard limit: CPython's folding at 78 doubles a space in encoded subjects.
_POLICY = email.policy.default.clone(max_line_length=998)
_PARIS_SUFFIX = {"fr": " (heure de Paris)", "en": " (Paris time)"}


def mail_locale(locale: str | None) -> str:
    """A locale we have templates for (French by default)."""
    locale = (locale or "fr")[:2].lower()
    return locale if locale in SUPPORTED_LOCALES else "fr"


def render_email(name: str, locale: str, **context) -> tuple[str, str, str]:
    """(subject, text, html) of templates <name>.<locale>.txt and .html (e.g. "tickets/mail/ack") in that locale."""
    locale = mail_locale(locale)
    env = current_app.jinja_env
    context = {"config": current_app.config, "locale": locale, **context}
    with force_locale(locale):
        text_template = env.get_template(f"{name}.{locale}.txt")
        subject = "".join(text_template.blocks["subject"](text_template.new_context(context)))
        text = "".join(text_template.blocks["body"](text_template.new_context(context)))
        html = env.get_template(f"{name}.{locale}.html").render(context)
    return " ".join(subject.split()), text.strip() + "\n", html


def local_datetime(value: datetime | None, locale: str) -> str:
    """An instant formatted in Europe/Paris in the given locale (for e-mails rendered outside requests)."""
    if value is None:
        return ""
    locale = mail_locale(locale)
    with force_locale(locale):
        text = format_datetime(value, "EEEE d MMMM y, HH:mm")
    return text + _PARIS_SUFFIX[locale]


def new_message_id() -> str:
    """A globally unique, unguessable Message-ID on the sender's domain (a reply citing it proves it saw our mail)."""
    _name, address = parseaddr(current_app.config["MAIL_SENDER"])
    domain = address.rpartition("@")[2] or "guichet.invalid"
    return f"<{int(time.time())}.{secrets.token_hex(16)}.guichet@{domain}>"


def build_message(row) -> EmailMessage:
    """The MIME message of an outbox row: multipart/alternative with both parts and threading headers."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = row.message_id
    if row.in_reply_to:
        message["In-Reply-To"] = row.in_reply_to
    if row.references:
        message["References"] = row.references
    if row.reply_to:
        message["Reply-To"] = row.reply_to
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    message["Content-Language"] = row.locale  # after set_content, which resets Content-* headers
    return message
