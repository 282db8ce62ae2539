"""Who is told what about a ticket: receivers of the tickets and expert signals, connected by object.

Every receiver runs inside the transaction of the change and only writes rows (outbox e-mails, in-app
notifications through the notifications package); the dispatcher sends after commit.

=============================== ===================================================== =====================
signal                          keyword arguments                                     receiver
=============================== ===================================================== =====================
tickets.signals.ticket_created  message, access_key                                   on_ticket_created
tickets.signals.ticket_replied  message (its email_message_id is set here)            on_ticket_replied
tickets.signals.ticket_resolved by                                                    on_ticket_resolved
tickets.signals.ticket_assigned assignee, previous, by                                on_ticket_assigned
tickets.signals.requester_...   message                                               on_requester_replied
tickets.signals.unassigned_...  manager, now, notify_at                               on_unassigned_too_long
tickets.signals.sla_at_risk     target, now, notify_at, escalation                    tickets.escalations
tickets.signals.sla_breached    target, now, notify_at, escalation                    tickets.escalations
expert.signals.auto_answered    article, decision, access_key                         on_auto_answered
expert.signals.advisor_requ...  decision, queue                                       on_advisor_requested
=============================== ===================================================== =====================
"""

from __future__ import annotations

import logging

from flask import Flask

from crm.core.extensions import utcnow
from crm.core.views import external_url
from expert import services as expert
from notifications.emails import local_datetime
from notifications.outbox import register_stale_check
from tickets import identity, queries
from tickets.emails import (
    email_requester,
    follow_link,
    localized,
    markdown_html,
    markdown_text,
    notify_staff,
    stale_resolution_mails,
)
from tickets.models import AuthorKind, Priority, Status

log = logging.getLogger(__name__)


# -- requester ----------------------------------------------------------------------------------


def on_ticket_created(ticket, message=None, access_key: str | None = None, **_kw) -> None:
    """Acknowledge the request; tell the référents of the group it was routed to."""
    if ticket.requester_email and ticket.status != Status.AUTO_ANSWERED:  # the automatic answer says it all
        email_requester(
            ticket, dedup_key=f"ack:{ticket.id}:{ticket.requester_email}", kind="ack", template="ack",
            first_message=message if message is not None and message.author_kind == AuthorKind.REQUESTER else None,
            link=follow_link(ticket, access_key),
            due=local_datetime(ticket.first_response_due_at, ticket.requester_locale),
            address_link=identity.confirmation_link(ticket),  # None once the address is known to be theirs
        )
    queue = ticket.queue
    if queue is not None and queue.is_referent_group:
        for user in queries.queue_member_users(queue.id):
            notify_staff(
                user, ticket, kind="referent_new", dedup_key=f"referent_new:{ticket.id}:{user.id}",
                title=localized(user.locale, "Nouvelle question pour %(queue)s : %(ref)s",
                                "New question for %(queue)s: %(ref)s", queue=queue.name, ref=ticket.reference),
                body=ticket.subject, urgent=ticket.priority == Priority.URGENT,
            )


def on_ticket_replied(ticket, message=None, **_kw) -> None:
    """Send a public staff reply to the requester, threaded; remember its Message-ID on the message."""
    if message is None or message.internal or not ticket.requester_email:
        return
    row = email_requester(
        ticket, dedup_key=f"reply:{ticket.id}:{message.id}:{ticket.requester_email}", kind="reply",
        template="reply", message=message, link=follow_link(ticket), message_id=message.email_message_id,
    )
    if row is not None and not message.email_message_id:
        message.email_message_id = row.message_id


def on_ticket_resolved(ticket, by=None, **_kw) -> None:
    """Tell the requester the request is resolved, with a single-use satisfaction survey link."""
    from tickets.surveys import create_survey, survey_link

    if not ticket.requester_email:
        return
    survey, token = create_survey(ticket)
    email_requester(
        ticket, dedup_key=f"resolved:{ticket.id}:{survey.id}:{ticket.requester_email}", kind="resolved",
        template="resolved", link=follow_link(ticket), survey_link=survey_link(token),
        survey_expires=local_datetime(survey.expires_at, ticket.requester_locale),
    )


def on_auto_answered(ticket, article=None, access_key: str | None = None, first_message=None, passage=None,
                     **_kw) -> None:
    """Send the expert module's automatic answer (an article, or a passage of a call document); both buttons lead
    to the follow page where they are."""
    if not ticket.requester_email:
        return
    link = follow_link(ticket, access_key)
    if passage is not None:
        answer, title = passage.text, expert.passage_source(passage)
        answer_link, source = expert.passage_link(passage), f"passage:{passage.passage_id}"
    else:
        answer = str(article.answer or "") if article is not None else ""
        title = article.question if article is not None else ""
        answer_link = external_url("kb.article", external_id=article.external_id) if article else ""
        source = article.id if article is not None else ""
    email_requester(
        ticket, dedup_key=f"auto_answer:{ticket.id}:{source}:{ticket.requester_email}",
        kind="auto_answer", template="auto_answer", first_message=first_message, article_title=title,
        answer=markdown_text(answer), answer_html=markdown_html(answer), confirm_link=link, escalate_link=link,
        link=link, article_link=answer_link, from_document=passage is not None,
        address_link=identity.confirmation_link(ticket),  # None once the address is known to be theirs
    )


# -- staff ----------------------------------------------------------------------------------------


def on_ticket_assigned(ticket, assignee=None, previous=None, by=None, **_kw) -> None:
    """Tell the new assignee (unless they took the ticket themselves)."""
    if assignee is None or (by is not None and by.id == assignee.id):
        return
    notify_staff(
        assignee, ticket, kind="assigned", dedup_key=f"assigned:{ticket.id}:{assignee.id}:{utcnow().isoformat()}",
        urgent=ticket.priority == Priority.URGENT,
        title=localized(assignee.locale, "Demande %(ref)s attribuée", "Request %(ref)s assigned to you",
                        ref=ticket.reference),
        body=ticket.subject,
    )


def on_requester_replied(ticket, message=None, **_kw) -> None:
    """Tell the assignee the requester answered."""
    assignee = ticket.assignee
    if assignee is None or message is None:
        return
    notify_staff(
        assignee, ticket, kind="requester_replied",
        dedup_key=f"requester_replied:{ticket.id}:{message.id}:{assignee.id}",
        urgent=ticket.priority == Priority.URGENT,
        title=localized(assignee.locale, "Réponse du demandeur sur %(ref)s", "The requester replied on %(ref)s",
                        ref=ticket.reference),
        body=message.body[:500],
    )


def on_unassigned_too_long(ticket, manager=None, now=None, notify_at=None, **_kw):
    """Tell the queue manager about an active ticket left unassigned too long; the notification or None."""
    if manager is None:
        return None
    return notify_staff(
        manager, ticket, kind="unassigned", dedup_key=f"unassigned:{ticket.id}:{manager.id}",
        urgent=True, not_before=notify_at or now,
        title=localized(manager.locale, "Demande %(ref)s sans responsable depuis trop longtemps",
                        "Request %(ref)s unassigned for too long", ref=ticket.reference),
        body=ticket.subject,
    )


def on_advisor_requested(ticket, decision=None, queue=None, **_kw) -> None:
    """Tell the référent group that the requester asked for a person after the automatic answer."""
    queue = queue or ticket.queue
    if queue is None or not queue.is_referent_group:
        return
    for member in queue.members:
        user = member.user
        notify_staff(
            user, ticket, kind="advisor_requested", dedup_key=f"advisor_requested:{ticket.id}:{user.id}",
            title=localized(user.locale, "Conseiller demandé après la réponse automatique : %(ref)s",
                            "Advisor requested after the automatic answer: %(ref)s", ref=ticket.reference),
            body=ticket.subject, urgent=ticket.priority == Priority.URGENT,
        )


def init_app(app: Flask) -> None:
    """Connect the receivers to the signal objects (idempotent: blinker keeps one connection per receiver)."""
    from expert import signals as expert_signals
    from tickets import escalations, signals

    signals.ticket_created.connect(on_ticket_created)
    signals.ticket_replied.connect(on_ticket_replied)
    signals.ticket_resolved.connect(on_ticket_resolved)
    signals.ticket_assigned.connect(on_ticket_assigned)
    signals.requester_replied.connect(on_requester_replied)
    signals.unassigned_too_long.connect(on_unassigned_too_long)
    signals.sla_at_risk.connect(escalations.on_sla_at_risk)
    signals.sla_breached.connect(escalations.on_sla_breached)
    expert_signals.auto_answered.connect(on_auto_answered)
    expert_signals.advisor_requested.connect(on_advisor_requested)
    register_stale_check(app, "resolved", stale_resolution_mails)  # not sent for a ticket reopened meanwhile
