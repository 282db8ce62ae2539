"""Who the requester is: an address joins an account only once confirmed, a mail joins a ticket only with its token.

- A request filed without being signed in as its address (anonymous form, e-mail, an agent's API call) keeps the
  address in ``requester_email`` with no account (``requester_id`` stays NULL) and is not the account's: "Mes
  demandes" and the follow page of a signed-in user show a ticket when it was filed from the account, or when
  its address was confirmed (``requester_confirmed_at``, set by the link of the acknowledgement).
- The confirmation link carries a signed, expiring token (itsdangerous, REQUESTER_CONFIRM_DAYS) naming the
  ticket and the address: the address may change or the ticket be deleted, the token then confirms nothing.
- An e-mail threads onto a ticket only with proof it answers one of our mails: the ticket's ``reply_token`` as
  the tag of the intake address (the Reply-To of every e-mail to the requester) or a Message-ID we sent in its
  In-Reply-To/References; and only from the requester's address, unless the relay says DMARC failed. A
  reference ``[DEM-…]`` in the subject alone proves nothing: the mail opens a new request, with the reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.core.services import normalise_email, user_by_email
from crm.core.views import external_url
from notifications.intake import InboundMail, tagged_address
from tickets.models import AuthorKind, Message, Ticket
from tickets.services import record_event

_SALT = "tickets.requester-confirmation"


class ConfirmationError(ValueError):
    """A confirmation link that is expired (``kind`` "expired"), forged or no longer matching its ticket ("invalid")."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# -- the account link ---------------------------------------------------------------------------------------


def owned_by(user_id: int, email: str) -> sa.ColumnElement[bool]:
    """SQL: the tickets that are the account's (filed from it, or in its address once confirmed)."""
    return sa.or_(Ticket.requester_id == user_id,
                  sa.and_(Ticket.requester_email == normalise_email(email),
                          Ticket.requester_confirmed_at.is_not(None)))


def other_requests(ticket: Ticket, limit: int = 10) -> list[Ticket]:
    """The requester's other requests (same account or same address), newest first, at most ``limit`` + 1 (so the
    caller knows there are more); for staff, who see every request."""
    same = Ticket.requester_email == ticket.requester_email
    if ticket.requester_id is not None:
        same = sa.or_(same, Ticket.requester_id == ticket.requester_id)
    return list(db.session.scalars(
        sa.select(Ticket).where(same, Ticket.id != ticket.id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1)))


def owns(user: User, ticket: Ticket) -> bool:
    """Python twin of owned_by for a loaded ticket."""
    return ticket.requester_id == user.id or (
        ticket.requester_confirmed_at is not None and ticket.requester_email == normalise_email(user.email))


def is_confirmed(ticket: Ticket) -> bool:
    """Whether the requester's address is known to be theirs (filed from their account, or confirmed by link)."""
    return ticket.requester_id is not None or ticket.requester_confirmed_at is not None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def confirmation_token(ticket: Ticket) -> str:
    """A signed token naming the ticket and its address (no row written: the submission path stays as it is)."""
    return _serializer().dumps([ticket.id, ticket.requester_email])


def confirmation_link(ticket: Ticket) -> str | None:
    """The acknowledgement's link that confirms the address, or None when there is nothing to confirm."""
    if is_confirmed(ticket) or not ticket.requester_email:
        return None
    return external_url("tickets_identity.confirm", reference=ticket.reference, jeton=confirmation_token(ticket))


def ticket_of_token(reference: str, token: str) -> Ticket:
    """The ticket a confirmation token names, if it is genuine, unexpired and still matches the ticket."""
    max_age = current_app.config["REQUESTER_CONFIRM_DAYS"] * 86400
    try:
        ticket_id, address = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as error:
        raise ConfirmationError("expired") from error
    except (BadSignature, ValueError, TypeError) as error:
        raise ConfirmationError("invalid") from error
    ticket = db.session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None or ticket.reference != reference or ticket.requester_email != address:
        raise ConfirmationError("invalid")
    return ticket


def confirm_requester(ticket: Ticket) -> User | None:
    """Record that the address is the requester's; link the account with that address, if any. Idempotent."""
    if ticket.requester_confirmed_at is None:
        ticket.requester_confirmed_at = utcnow()
        record_event(ticket, "requester_confirmed", email=ticket.requester_email)
    account = ticket.requester or user_by_email(ticket.requester_email)
    if ticket.requester_id is None and account is not None:
        ticket.requester = account
    db.session.flush()
    return account


# -- e-mail threading -----------------------------------------------------------------------------------------


def reply_address(ticket: Ticket) -> str | None:
    """The Reply-To of e-mails about the ticket: the intake address tagged with the ticket's reply token."""
    return (tagged_address(ticket.reply_token) or None) if ticket.reply_token else None


def ticket_by_reply_token(tags: list[str]) -> Ticket | None:
    """The ticket whose reply token is one of the tags, or None."""
    tags = [t for t in tags if t]
    if not tags:
        return None
    return db.session.scalar(sa.select(Ticket).where(Ticket.reply_token.in_(tags)).limit(1))


def ticket_by_sent_message(mail: InboundMail) -> Ticket | None:
    """The ticket of a Message-ID we sent that the mail cites: the mail side's outbox hint, else a staff reply's."""
    ticket_id = mail.ticket_hint
    ids = [i for i in [*mail.in_reply_to, *mail.references] if len(i) <= 255]
    if ticket_id is None and ids:
        ticket_id = db.session.scalar(
            sa.select(Message.ticket_id).where(Message.email_message_id.in_(ids),
                                               Message.author_kind == AuthorKind.STAFF)
            .order_by(Message.id.desc()).limit(1))
    return db.session.get(Ticket, ticket_id) if ticket_id else None


def may_thread(ticket: Ticket, mail: InboundMail) -> str:
    """Why a mail that carries the ticket's proof may still not join it ("" when it may)."""
    if mail.sender != ticket.requester_email:
        return (f"le courriel répond à la demande {ticket.reference} mais vient de {mail.sender}, "
                f"qui n'en est pas le demandeur")
    if mail.auth.get("verdict") == "fail":
        return (f"le courriel répond à la demande {ticket.reference} mais le relais de réception signale "
                f"un échec DMARC pour {mail.sender}")
    return ""


def unthreaded_reason(cited: Ticket | None) -> str:
    """Why a mail that only cites a reference in its subject opened a new request."""
    if cited is None:
        return ""
    return (f"la référence {cited.reference} est citée dans l'objet sans le jeton de réponse de la demande ni "
            f"un de nos messages dans le fil")


def note_unthreaded(ticket: Ticket, reason: str, cited: str | None) -> Message:
    """An internal note on the new request saying which request the mail claimed to answer and why it did not."""
    text = f"Courriel non rattaché : {reason}."
    if cited:
        text += f" Vérifiez l'expéditeur avant de fusionner avec {cited}."
    note = Message(ticket=ticket, author_kind=AuthorKind.SYSTEM, author_name="Guichet", body=text,
                   internal=True, channel=ticket.channel, created_at=utcnow())
    db.session.add(note)
    db.session.flush()
    return note

