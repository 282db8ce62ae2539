"""Who is told what: receivers of the tickets (and expert) signals that write outbox rows and notifications.

Every receiver runs inside the transaction of the change and only writes rows; the dispatcher sends.
Signals are connected by name (blinker's default namespace), so this package never imports their senders:

=============================== ===================================================== =====================
signal name                     keyword arguments                                     receiver
=============================== ===================================================== =====================
tickets.ticket-created          message, access_key                                   on_ticket_created
tickets.ticket-replied          message (its email_message_id is set here)            on_ticket_replied
tickets.ticket-resolved         by                                                    on_ticket_resolved
tickets.ticket-assigned         assignee, previous, by                                on_ticket_assigned
tickets.requester-replied       message                                               on_requester_replied
tickets.unassigned-too-long     manager, now, notify_at                               on_unassigned_too_long
tickets.sla-at-risk             target, now, notify_at, escalation                    escalations
tickets.sla-breached            target, now, notify_at, escalation                    escalations
expert.auto-answered            article, decision, access_key                         on_auto_answered
crm.password-link-requested     user, url (connected through crm.signals)             on_password_link_...
=============================== ===================================================== =====================

Sent by this package: ``notifications.survey-answered`` (sender: the ticket; kwargs: score, at, survey);
tickets records it in the audit trail.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, current_app

from crm.core.extensions import utcnow
from notifications.emails import local_datetime, mail_locale
from notifications.outbox import enqueue_email
from notifications.services import notify_user

log = logging.getLogger(__name__)


def localized(locale: str | None, fr: str, en: str, **values) -> str:
    """A short staff-facing text in the user's language (titles of notifications)."""
    return (en if mail_locale(locale) == "en" else fr) % values


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def follow_link(ticket, key: str | None = None) -> str:
    """The requester's link to follow the ticket (with the secret key when we have it in clear)."""
    link = f"{base_url()}/demandes/{ticket.reference}"
    return f"{link}?cle={key}" if key else link


# -- requester ----------------------------------------------------------------------------------


def on_ticket_created(ticket, message=None, access_key: str | None = None, **_kw) -> None:
    """Acknowledge the request; tell the référents of the group it was routed to."""
    if ticket.requester_email and ticket.status != "auto_answered":  # the automatic answer says it all
        enqueue_email(
            dedup_key=f"ack:{ticket.id}:{ticket.requester_email}", kind="ack", recipient=ticket.requester_email,
            template="ack", locale=ticket.requester_locale, ticket=ticket, link=follow_link(ticket, access_key),
            due=local_datetime(ticket.first_response_due_at, ticket.requester_locale),
        )
    queue = ticket.queue
    if queue is not None and queue.is_referent_group:
        for member in queue.members:
            user = member.user
            notify_user(
                user, kind="referent_new", dedup_key=f"referent_new:{ticket.id}:{user.id}", ticket=ticket,
                title=localized(user.locale, "Nouvelle question pour %(queue)s : %(ref)s",
                                "New question for %(queue)s: %(ref)s", queue=queue.name, ref=ticket.reference),
                body=ticket.subject, urgent=ticket.priority == "urgent",
            )


def on_ticket_replied(ticket, message=None, **_kw) -> None:
    """Send a public staff reply to the requester, threaded; remember its Message-ID on the message."""
    if message is None or message.internal or not ticket.requester_email:
        return
    row = enqueue_email(
        dedup_key=f"reply:{ticket.id}:{message.id}:{ticket.requester_email}", kind="reply",
        recipient=ticket.requester_email, template="reply", locale=ticket.requester_locale, ticket=ticket,
        message=message, link=follow_link(ticket),
    )
    if row is not None and not message.email_message_id:
        message.email_message_id = row.message_id


def on_ticket_resolved(ticket, by=None, **_kw) -> None:
    """Tell the requester the request is resolved, with a single-use satisfaction survey link."""
    from notifications.surveys import create_survey, survey_link

    if not ticket.requester_email:
        return
    survey, token = create_survey(ticket)
    enqueue_email(
        dedup_key=f"resolved:{ticket.id}:{survey.id}:{ticket.requester_email}", kind="resolved",
        recipient=ticket.requester_email, template="resolved", locale=ticket.requester_locale, ticket=ticket,
        link=follow_link(ticket), survey_link=survey_link(token),
        survey_expires=local_datetime(survey.expires_at, ticket.requester_locale),
    )


def on_auto_answered(ticket, article=None, access_key: str | None = None, **_kw) -> None:
    """Send the expert module's automatic answer; both buttons lead to the follow page where they are."""
    if not ticket.requester_email:
        return
    link = follow_link(ticket, access_key)
    answer = str(getattr(article, "answer", "") or "")
    enqueue_email(
        dedup_key=f"auto_answer:{ticket.id}:{getattr(article, 'id', '')}:{ticket.requester_email}",
        kind="auto_answer", recipient=ticket.requester_email, template="auto_answer",
        locale=ticket.requester_locale, ticket=ticket, article_title=getattr(article, "question", "") or "",
        answer=answer, answer_html=markdown_html(answer), confirm_link=link, escalate_link=link, link=link,
    )


def markdown_html(text: str):
    """Markdown rendered to sanitised HTML (nh3), for answers shown in e-mails."""
    import markdown
    import nh3
    from markupsafe import Markup

    return Markup(nh3.clean(markdown.markdown(text)))  # noqa: S704 - sanitised by nh3


# -- staff ----------------------------------------------------------------------------------------


def on_ticket_assigned(ticket, assignee=None, previous=None, by=None, **_kw) -> None:
    """Tell the new assignee (unless they took the ticket themselves)."""
    if assignee is None or (by is not None and by.id == assignee.id):
        return
    notify_user(
        assignee, kind="assigned", dedup_key=f"assigned:{ticket.id}:{assignee.id}:{utcnow().isoformat()}",
        ticket=ticket, urgent=ticket.priority == "urgent",
        title=localized(assignee.locale, "Demande %(ref)s attribuée", "Request %(ref)s assigned to you",
                        ref=ticket.reference),
        body=ticket.subject,
    )


def on_requester_replied(ticket, message=None, **_kw) -> None:
    """Tell the assignee the requester answered."""
    assignee = ticket.assignee
    if assignee is None or message is None:
        return
    notify_user(
        assignee, kind="requester_replied", dedup_key=f"requester_replied:{ticket.id}:{message.id}:{assignee.id}",
        ticket=ticket, urgent=ticket.priority == "urgent",
        title=localized(assignee.locale, "Réponse du demandeur sur %(ref)s", "The requester replied on %(ref)s",
                        ref=ticket.reference),
        body=message.body[:500],
    )


def on_unassigned_too_long(ticket, manager=None, now=None, notify_at=None, **_kw):
    """Tell the queue manager about an active ticket left unassigned too long; the notification or None."""
    if manager is None:
        return None
    return notify_user(
        manager, kind="unassigned", dedup_key=f"unassigned:{ticket.id}:{manager.id}", ticket=ticket,
        urgent=True, not_before=notify_at or now,
        title=localized(manager.locale, "Demande %(ref)s sans responsable depuis trop longtemps",
                        "Request %(ref)s unassigned for too long", ref=ticket.reference),
        body=ticket.subject,
    )


def on_password_link_requested(_sender, user=None, url: str = "", **_kw) -> None:
    """E-mail a portal user the single-use link that sets their password (one e-mail per link)."""
    if user is None or not url:
        return
    digest = hashlib.sha256(url.encode()).hexdigest()[:24]
    enqueue_email(dedup_key=f"password_link:{user.id}:{digest}", kind="password_link", recipient=user.email,
                  template="password_link", locale=user.locale, user=user, link=url)


#: The signals this module reacts to, by name in blinker's default namespace (no import of their senders).
#: Sender of the tickets.* and expert.* signals: the ticket (used through its attributes only).
RECEIVERS = {
    "tickets.ticket-created": on_ticket_created,
    "tickets.ticket-replied": on_ticket_replied,
    "tickets.ticket-resolved": on_ticket_resolved,
    "tickets.ticket-assigned": on_ticket_assigned,
    "tickets.requester-replied": on_requester_replied,
    "tickets.unassigned-too-long": on_unassigned_too_long,
    "expert.auto-answered": on_auto_answered,
}


def init_app(app: Flask) -> None:
    """Subscribe to the signals by name (idempotent: blinker keeps one connection per receiver)."""
    from blinker import signal

    from crm.portal import signals as crm_signals
    from notifications import escalations

    crm_signals.password_link_requested.connect(on_password_link_requested)
    for name, receiver in RECEIVERS.items():
        signal(name).connect(receiver)
    signal("tickets.sla-at-risk").connect(escalations.on_sla_at_risk)
    signal("tickets.sla-breached").connect(escalations.on_sla_breached)
