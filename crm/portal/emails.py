"""The portal's own e-mails, written to the notifications outbox in the transaction that causes them."""

from __future__ import annotations

from flask import Flask

from crm.core.models import User
from crm.core.security import token_digest
from notifications.outbox import enqueue_email


def on_password_link_requested(_sender, user: User | None = None, url: str = "", reset: bool = False,
                               **_kw) -> None:
    """E-mail the single-use link that sets a password, a first one or a forgotten one (one e-mail per link)."""
    if user is None or not url:
        return
    digest = token_digest(url)[:24]
    enqueue_email(dedup_key=f"password_link:{user.id}:{digest}", kind="password_link", recipient=user.email,
                  template="crm/portal/mail/password_link", locale=user.locale, user=user, link=url, reset=reset)


def init_app(app: Flask) -> None:
    """Connect the receivers to the portal's signals."""
    from crm.portal import signals

    signals.password_link_requested.connect(on_password_link_requested)
