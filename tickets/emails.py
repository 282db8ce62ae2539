"""How tickets write to people: the requester's e-mails and the staff's notifications, through notifications."""

from __future__ import annotations

import re

import sqlalchemy as sa

from crm.core.extensions import db
from crm.core.views import external_url, path_for
from notifications.emails import mail_locale
from notifications.models import Notification, OutboxMessage
from notifications.outbox import enqueue_email
from notifications.services import notify_user
from tickets import identity
from tickets.models import AuthorKind, Message, Status, Ticket


def localized(locale: str | None, fr: str, en: str, **values) -> str:
    """A short staff-facing text in the user's language (titles of notifications)."""
    return (en if mail_locale(locale) == "en" else fr) % values


def follow_link(ticket: Ticket, key: str | None = None) -> str:
    """The requester's link to follow the ticket (with the secret key when we have it in clear)."""
    link = external_url("tickets_public.follow", reference=ticket.reference)
    return f"{link}?cle={key}" if key else link


def email_requester(ticket: Ticket, *, dedup_key: str, kind: str, template: str, first_message: Message | None = None,
                    **context) -> OutboxMessage | None:
    """An e-mail to the requester about the ticket, threaded on their own first e-mail and on our first one.

    ``first_message``: the requester's first message when the caller has it (a ticket being created), so that
    its Message-ID need not be read back. The templates get ``confirmed`` (tickets.identity): an automatic mail to
    an address never confirmed must not echo what was typed on the form (subject, name): anyone may have typed it.
    """
    if first_message is not None:
        inbound = first_message.email_message_id
    else:  # read by the e-mail's own INSERT (notifications.outbox), not before it
        inbound = (
            sa.select(Message.email_message_id)
            .where(Message.ticket_id == ticket.id, Message.author_kind == AuthorKind.REQUESTER,
                   Message.email_message_id.is_not(None))
            .order_by(Message.created_at, Message.id).limit(1).scalar_subquery()
        )
    return enqueue_email(
        dedup_key=dedup_key, kind=kind, recipient=ticket.requester_email, template=f"tickets/mail/{template}",
        locale=ticket.requester_locale, thread_id=ticket.id, subject_prefix=f"[{ticket.reference}] ",
        confirmed=identity.is_confirmed(ticket),
        thread_refs=[inbound] if inbound is not None else [], ticket=ticket, reply_to=identity.reply_address(ticket),
        **context)


#: Why a "résolue" e-mail was not sent when its turn came (msgids, shown translated on the outbox page).
REOPENED = "Non envoyé : la demande a été rouverte avant l'envoi."
RESOLVED_AGAIN = "Non envoyé : la demande a été résolue de nouveau depuis (seul le dernier courriel part)."


def stale_resolution_mails(rows: list[OutboxMessage]) -> dict[int, str]:
    """The "résolue" e-mails (and their survey link) no longer true at dispatch: the ticket was reopened since,
    or resolved again (a later one of the same ticket and recipient carries the current survey). Two reads."""
    ids = sorted({r.ticket_id for r in rows if r.ticket_id is not None})
    if not ids:
        return {}
    statuses = dict(db.session.execute(sa.select(Ticket.id, Ticket.status).where(Ticket.id.in_(ids))).all())
    latest = {(thread, recipient): last for thread, recipient, last in db.session.execute(
        sa.select(OutboxMessage.ticket_id, OutboxMessage.recipient, sa.func.max(OutboxMessage.id))
        .where(OutboxMessage.kind == "resolved", OutboxMessage.ticket_id.in_(ids))
        .group_by(OutboxMessage.ticket_id, OutboxMessage.recipient))}
    reasons = {}
    for row in rows:
        status = statuses.get(row.ticket_id)
        if status is not None and status not in (Status.RESOLVED, Status.CLOSED):
            reasons[row.id] = REOPENED
        elif latest.get((row.ticket_id, row.recipient), row.id) > row.id:
            reasons[row.id] = RESOLVED_AGAIN
    return reasons


def notify_staff(user, ticket: Ticket, *, kind: str, dedup_key: str, title: str, body: str = "",
                 urgent: bool = False, not_before=None) -> Notification | None:
    """An in-app notification (and its e-mail) about the ticket that opens the agent's ticket page."""
    return notify_user(user, kind=kind, dedup_key=dedup_key, title=title, body=body, urgent=urgent,
                       not_before=not_before, url=path_for("tickets_agent.ticket", reference=ticket.reference),
                       thread_id=ticket.id, subject_prefix=f"[{ticket.reference}] ", ticket=ticket)


#: Markdown images, inline ``![alt](url "title")`` and by reference ``![alt][ref]``, and raw <img> tags.
_MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def _alt_of_tag(match: re.Match) -> str:
    alt = _ALT.search(match.group(0))
    return next((g for g in alt.groups() if g is not None), "") if alt else ""


def markdown_text(text: str) -> str:
    """A Markdown answer for the text part of an e-mail: each image replaced by its alt text."""
    return _HTML_IMAGE.sub(_alt_of_tag, _MARKDOWN_IMAGE.sub(r"\1", text))


def markdown_html(text: str):
    """Markdown rendered to sanitised HTML (nh3) for e-mails: no image is loaded, each one is its alt text.

    A remote image would tell its server when and where the mail is read (and show what it likes): Markdown
    images become their alt text, raw <img> tags are removed by the sanitiser.
    """
    import markdown
    import nh3
    from markdown.treeprocessors import Treeprocessor
    from markupsafe import Markup

    class _ImagesAsText(Treeprocessor):
        def run(self, root):
            for parent in list(root.iter()):
                for index in reversed(range(len(parent))):
                    child = parent[index]
                    if child.tag != "img":
                        continue
                    text = (child.get("alt") or "") + (child.tail or "")
                    if index:
                        parent[index - 1].tail = (parent[index - 1].tail or "") + text
                    else:
                        parent.text = (parent.text or "") + text
                    parent.remove(child)

    renderer = markdown.Markdown()
    renderer.treeprocessors.register(_ImagesAsText(renderer), "guichet_images_as_text", 0)
    html = renderer.convert(text)
    return Markup(nh3.clean(html, tags=nh3.ALLOWED_TAGS - {"img", "area", "map"}))  # noqa: S704 - sanitised
