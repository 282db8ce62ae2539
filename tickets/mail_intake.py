"""Mail → ticket: the handler notifications calls (through crm.core.registry) for each readable incoming message.

It finds the ticket a message answers (its thread ids, the mail side's hint, the reference in the subject),
checks the attachments (refused ones are noted in the text) and adds a reply or opens a new request.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask, current_app

from crm.core.extensions import db
from notifications.intake import InboundMail, IntakeResult
from tickets.attachments import AttachmentError, IncomingFile, check_files
from tickets.models import Channel, Message, Ticket
from tickets.services import TicketError, ticket_by_reference
from tickets.workflow import add_requester_reply, create_ticket

REFERENCE_RE = re.compile(r"\bDEM-\d{4}-\d{6}\b", re.IGNORECASE)


def checked_attachments(files: list[tuple[str, bytes, str]]) -> tuple[list[IncomingFile], list[str]]:
    """Accepted files and notes about refused ones (count, size, type limits of tickets.attachments)."""
    accepted, notes = [], []
    limit = current_app.config["ATTACHMENT_MAX_FILES"]
    for filename, content, content_type in files:
        incoming = IncomingFile(filename=filename, content=content, content_type=content_type)
        if len(accepted) >= limit:
            notes.append(f"Pièce jointe non conservée (plus de {limit} fichiers) : {filename}")
            continue
        try:
            check_files([incoming])
        except AttachmentError as error:
            notes.append(f"Pièce jointe refusée : {error}")
            continue
        accepted.append(incoming)
    return accepted, notes


def find_ticket(mail: InboundMail) -> Ticket | None:
    """The ticket this message answers: by In-Reply-To/References, the hint, else the reference in the subject."""
    ticket = None
    ids = [i for i in [*mail.in_reply_to, *mail.references] if len(i) <= 255]
    if ids:
        ticket_id = db.session.scalar(
            sa.select(Message.ticket_id).where(Message.email_message_id.in_(ids)).order_by(Message.id.desc()).limit(1)
        ) or mail.ticket_hint
        ticket = db.session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None:
        match = REFERENCE_RE.search(mail.subject)
        ticket = ticket_by_reference(match.group(0)) if match else None
    seen = set()
    while ticket is not None and ticket.merged_into_id and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = ticket.merged_into
    # Only the requester may add to a ticket by e-mail; anyone else opens their own request.
    if ticket is not None and ticket.requester_email != mail.sender:
        return None
    return ticket


def intake_mail(mail: InboundMail) -> IntakeResult:
    """Add the message to the ticket it answers, or open a new request; flushes, the caller commits."""
    from crm.core.services import user_by_email

    attachments, notes = checked_attachments(mail.attachments)
    text = mail.text
    if notes:
        text = (text + "\n\n" + "\n".join(f"[{n}]" for n in notes)).strip()
    body = text or ("(voir les pièces jointes)" if attachments else "(message sans texte)")
    ticket = find_ticket(mail)
    if ticket is not None:
        try:
            add_requester_reply(ticket, body=body, author=ticket.requester, attachments=attachments,
                                channel=Channel.EMAIL, email_message_id=mail.message_id)
        except TicketError as error:
            body = f"Suite de la demande {ticket.reference} ({error})\n\n{body}"
        else:
            return IntakeResult("replied", ticket_id=ticket.id, reference=ticket.reference)
    user = user_by_email(mail.sender)
    ticket, _key = create_ticket(
        subject=REFERENCE_RE.sub("", mail.subject).strip(" []:-") or "(sans objet)", body=body,
        requester_email=mail.sender, requester_name=mail.name, requester=user,
        channel=Channel.EMAIL, locale=(user.locale if user else mail.locale), attachments=attachments,
        email_message_id=mail.message_id,
    )
    return IntakeResult("created", ticket_id=ticket.id, reference=ticket.reference)


def init_app(app: Flask) -> None:
    """Offer the handler to the mail side."""
    from crm.core import registry

    registry.set_mail_intake(app, intake_mail)
