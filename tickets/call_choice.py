"""« Quel appel à projets votre question concerne-t-elle ? »: the requester picks a call on the follow page.

Triage never answers with an article limited to calls it could not tell the question is about: it leaves the
request with a person and keeps the calls in question on its decision (``call_choices``). Until an agent takes
the request, the requester may pick one in one click; the request is then triaged again with that call (an
automatic answer, a routing or still a person), or left with a person for « another call ».
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from crm.core.extensions import db, utcnow
from crm.core.models import User
from expert import services as expert
from expert.calls import KnownCall, call_catalogue
from expert.models import TriageDecision
from tickets import services, triage
from tickets.models import AuthorKind, Status, Ticket
from tickets.services import TicketError

#: The choice « Un autre appel ou je ne sais pas »: a person answers.
OTHER_CALL = "autre"


def _waiting(ticket: Ticket) -> TriageDecision | None:
    """The decision that waits for the call of the question, while no one has taken the request."""
    if ticket.status != Status.NEW or ticket.assignee_id is not None or ticket.first_responded_at is not None:
        return None
    decision = expert.latest_decision(ticket)
    return decision if decision is not None and decision.call_choices else None


def call_offer(ticket: Ticket) -> list[KnownCall] | None:
    """The calls the requester may pick between (in the decision's order), or None when nothing is asked."""
    decision = _waiting(ticket)
    if decision is None:
        return None
    catalogue = call_catalogue()
    return [catalogue.known(code) for code in decision.call_choices]


def choose_call(ticket: Ticket, code: str, *, by: User | None, now: datetime | None = None) -> TriageDecision:
    """The requester's pick: triage again with this call (OTHER_CALL: leave the request with a person)."""
    now = now or utcnow()
    waiting = _waiting(ticket)
    if waiting is None:
        raise TicketError(_("Cette demande n'attend plus de précision sur l'appel à projets."))
    if code != OTHER_CALL and code not in waiting.call_choices:
        raise TicketError(_("Cet appel à projets n'est pas proposé pour cette demande."))
    waiting.call_choices = []
    if code == OTHER_CALL:
        expert.add_note(waiting, "le demandeur indique un autre appel ou ne sait pas : traitement par un conseiller")
        services.record_event(ticket, "call_chosen", by, at=now, call=None)
        db.session.flush()
        return waiting
    first = next((m for m in ticket.messages if m.author_kind == AuthorKind.REQUESTER), None)
    project_call, state = ((ticket.project.call_code, ticket.project.state) if ticket.project is not None
                           else expert.project_context(ticket.project_reference))
    question, version, decision, articles = expert.decide(
        subject=ticket.subject, body=first.body if first is not None else "",
        topic=ticket.topic.slug if ticket.topic else None, call=project_call, chosen_call=code,
        profiles=expert.requester_profiles(ticket.requester), project_state=state, channel=ticket.channel,
        today=now.date(),
    )
    record = expert.record_decision(ticket.id, question, version, decision, now=now)
    services.record_event(ticket, "call_chosen", by, at=now, call=code)
    triage._apply(ticket, decision, record, articles, now)  # the same application as a new request's
    services.apply_sla_policy(ticket, now=now)
    db.session.flush()
    triage.announce_auto_answer(ticket, decision=record)
    return record
