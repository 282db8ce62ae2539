"""The expert module's scheduled job: forget the assistant's expired conversations (the scheduler commits)."""

from __future__ import annotations

import logging

from flask import Flask

from crm.core import registry
from expert import conversations

log = logging.getLogger(__name__)


def purge_conversations() -> int:
    """Delete the conversations expired for ASSISTANT_CONVERSATION_DAYS that opened no request."""
    removed = conversations.purge_expired()
    if removed:
        log.info("assistant: %d expired conversation(s) deleted", removed)
    return removed


def init_app(app: Flask) -> None:
    """Every night, after the attachments' retention job."""
    registry.add_job(app, "assistant_conversations", purge_conversations,
                     {"trigger": "cron", "hour": 4, "minute": 10, "timezone": app.config["BABEL_DEFAULT_TIMEZONE"]})
