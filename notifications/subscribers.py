"""Who is told what: receivers of the tickets (and expert) signals that write outbox rows and notifications.

Every receiver runs inside the transaction of the change and only writes rows; the dispatcher sends.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from crm.extensions import db, utcnow
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


def check_unassigned(now=None) -> int:
    """Tell queue managers about active tickets left unassigned too long (business time); once per ticket."""
    from notifications.escalations import defer_to_open_time
    from notifications.models import Notification
    from tickets.models import ACTIVE_STATUSES, Status, Ticket
    from tickets.sla_tracking import business_calendar

    now = now or utcnow()
    limit = timedelta(minutes=current_app.config["UNASSIGNED_ALERT_MINUTES"])
    notified = sa.select(Notification.id).where(Notification.kind == "unassigned",
                                                Notification.ticket_id == Ticket.id).exists()
    tickets = db.session.scalars(
        sa.select(Ticket)
        .where(Ticket.assignee_id.is_(None), Ticket.status.in_(ACTIVE_STATUSES),
               Ticket.status != Status.AUTO_ANSWERED, Ticket.created_at <= now - limit, ~notified)
        .order_by(Ticket.id).limit(500)
    ).all()
    count = 0
    for ticket in tickets:
        manager = ticket.queue.manager if ticket.queue else None
        if manager is None:
            continue
        policy = ticket.sla_policy
        if policy is not None and business_calendar(policy.calendar).between(ticket.created_at, now) < limit:
            continue
        note = notify_user(
            manager, kind="unassigned", dedup_key=f"unassigned:{ticket.id}:{manager.id}", ticket=ticket,
            urgent=True, not_before=defer_to_open_time(ticket, now),
            title=localized(manager.locale, "Demande %(ref)s sans responsable depuis trop longtemps",
                            "Request %(ref)s unassigned for too long", ref=ticket.reference),
            body=ticket.subject,
        )
        count += note is not None
    db.session.flush()
    return count


def on_password_link_requested(_sender, user=None, url: str = "", **_kw) -> None:
    """E-mail a portal user the single-use link that sets their password (one e-mail per link)."""
    if user is None or not url:
        return
    digest = hashlib.sha256(url.encode()).hexdigest()[:24]
    enqueue_email(dedup_key=f"password_link:{user.id}:{digest}", kind="password_link", recipient=user.email,
                  template="password_link", locale=user.locale, user=user, link=url)


def connect() -> None:
    """Subscribe to the signals (idempotent: blinker keeps one connection per receiver)."""
    from crm import signals as crm_signals
    from notifications import escalations
    from tickets import signals

    crm_signals.password_link_requested.connect(on_password_link_requested)

    signals.ticket_created.connect(on_ticket_created)
    signals.ticket_replied.connect(on_ticket_replied)
    signals.ticket_resolved.connect(on_ticket_resolved)
    signals.ticket_assigned.connect(on_ticket_assigned)
    signals.requester_replied.connect(on_requester_replied)
    signals.sla_at_risk.connect(escalations.on_sla_at_risk)
    signals.sla_breached.connect(escalations.on_sla_breached)
    try:
        from expert import signals as expert_signals
    except ImportError:
        expert_signals = None
    auto_answered = getattr(expert_signals, "auto_answered", None)
    if auto_answered is not None:
        auto_answered.connect(on_auto_answered)
