"""Neutral structures for mail → ticket: notifications reads the mailbox, tickets turns mail into tickets.

A conversation's e-mails carry a Reply-To on the intake address tagged with the conversation's secret
(``guichet+<tag>@agence.example``, plus-addressing): the tag comes back in the recipient headers of the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr

from flask import current_app


@dataclass
class InboundMail:
    """An incoming message as read by notifications (quoted history already removed from ``text``)."""

    sender: str
    name: str
    subject: str
    text: str
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    #: (filename, content, content_type) of every attached file, unchecked.
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)
    locale: str = "fr"
    #: A ticket id found by the mail side (a thread id matching an e-mail it sent), or None.
    ticket_hint: int | None = None
    #: The tags of the intake address the message was sent to (``guichet+<tag>@…``), lowercase.
    reply_tags: list[str] = field(default_factory=list)
    #: The trusted relay's Authentication-Results (dkim, spf, dmarc, dkim_domains, verdict); see mail_in.
    auth: dict = field(default_factory=dict)


@dataclass
class IntakeResult:
    """What the intake handler did: outcome is "created", "replied" or "ignored"."""

    outcome: str
    ticket_id: int | None = None
    reference: str | None = None
    reason: str = ""


def intake_address() -> tuple[str, str, str]:
    """(display name, local part, domain) of the address requesters write to (MAIL_INTAKE_ADDRESS, else MAIL_SENDER)."""
    config = current_app.config
    sender_name, sender = parseaddr(config["MAIL_SENDER"])
    name, address = parseaddr(config.get("MAIL_INTAKE_ADDRESS") or sender)
    local, _at, domain = address.strip().lower().rpartition("@")
    return name or sender_name, local.partition("+")[0], domain


def tagged_address(tag: str) -> str:
    """The intake address tagged for one conversation: "Guichet <guichet+tag@agence.example>"."""
    name, local, domain = intake_address()
    return formataddr((name, f"{local}+{tag}@{domain}")) if local and domain else ""
