"""Neutral structures for mail → ticket: notifications reads the mailbox, tickets turns mail into tickets."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass
class IntakeResult:
    """What the intake handler did: outcome is "created", "replied" or "ignored"."""

    outcome: str
    ticket_id: int | None = None
    reference: str | None = None
    reason: str = ""
