"""Mail → ticket: the handler notifications calls (through crm.core.registry) for each readable incoming message.

It finds the ticket a message answers (its reply token or a Message-ID we sent, from the requester: see
tickets.identity), checks the attachments (refused ones are noted in the text) and adds a reply or opens a new
request; a reference cited without that proof opens a new request with an internal note saying why.
"""

from __future__ import annotations

import re

from flask import Flask, current_app

from crm.core.extensions import db
from notifications.intake import InboundMail, IntakeResult
from tickets import identity
from tickets.attachments import AttachmentError, IncomingFile, check_files
from tickets.models import Channel, Ticket
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


def _surviving(ticket: Ticket | None) -> Ticket | None:
    """The ticket a merged one lives on in."""
    seen = set()
    while ticket is not None and ticket.merged_into_id and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = ticket.merged_into
    return ticket


def find_ticket(mail: InboundMail) -> tuple[Ticket | None, str, Ticket | None]:
    """(the ticket this message answers, why it answers none, the ticket it claimed to answer).

    Only proof threads (tickets.identity): the ticket's reply token in the address it was sent to, or a Message-ID
    we sent in its thread; then only from the requester's address, without a DMARC failure. A reference in the
    subject alone gives the claimed ticket and a reason, never the ticket.
    """
    proven = _surviving(identity.ticket_by_reply_token(mail.reply_tags) or identity.ticket_by_sent_message(mail))
    if proven is not None:
        reason = identity.may_thread(proven, mail)
        return (None, reason, proven) if reason else (proven, "", proven)
    match = REFERENCE_RE.search(mail.subject)
    cited = _surviving(ticket_by_reference(match.group(0).upper())) if match else None
    return None, identity.unthreaded_reason(cited), cited


def intake_mail(mail: InboundMail) -> IntakeResult:
    """Add the message to the ticket it answers, or open a new request; flushes, the caller commits.

    A new request from e-mail is never linked to an account: the acknowledgement asks to confirm the address.
    """
    attachments, notes = checked_attachments(mail.attachments)
    text = mail.text
    if notes:
        text = (text + "\n\n" + "\n".join(f"[{n}]" for n in notes)).strip()
    body = text or ("(voir les pièces jointes)" if attachments else "(message sans texte)")
    ticket, reason, claimed = find_ticket(mail)
    if ticket is not None:
        try:
            message = add_requester_reply(ticket, body=body, author=ticket.requester, attachments=attachments,
                                          channel=Channel.EMAIL, email_message_id=mail.message_id)
        except TicketError as error:
            body = f"Suite de la demande {ticket.reference} ({error})\n\n{body}"
        else:
            message.email_auth = mail.auth or None
            db.session.flush()
            return IntakeResult("replied", ticket_id=ticket.id, reference=ticket.reference)
    ticket, _key = create_ticket(
        subject=REFERENCE_RE.sub("", mail.subject).strip(" []:-") or "(sans objet)", body=body,
        requester_email=mail.sender, requester_name=mail.name, requester=None,
        channel=Channel.EMAIL, locale=mail.locale, attachments=attachments, email_message_id=mail.message_id,
    )
    ticket.messages[0].email_auth = mail.auth or None
    if reason:
        identity.note_unthreaded(ticket, reason, claimed.reference if claimed is not None else None)
    db.session.flush()
    return IntakeResult("created", ticket_id=ticket.id, reference=ticket.reference,
                        reason=f"non rattaché : {reason}" if reason else "")


def init_app(app: Flask) -> None:
    """Offer the handler to the mail side."""
    from crm.core import registry

    registry.set_mail_intake(app, intake_mail)
