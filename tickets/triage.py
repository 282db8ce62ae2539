"""Triage of new tickets: the expert module decides, this module applies its decision with the tickets services."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict
from datetime import datetime

import sqlalchemy as sa
from flask import Flask
from flask_babel import get_locale

from crm.core.extensions import db, utcnow
from crm.core.models import User
from expert import services as expert
from expert import signals as expert_signals
from expert.models import Outcome, TriageDecision
from notifications.worker import wake_worker
from tickets import queries, services
from tickets.models import (
    ACTIVE_STATUSES,
    PRIORITY_LABELS,
    AuthorKind,
    Message,
    Queue,
    QueueMember,
    Status,
    Ticket,
    TicketEvent,
)
from tickets.services import TicketError

# --- Facts the expert module asks for ------------------------------------------------------------------


def labels() -> dict[str, str]:
    """Names of priority, topic and queue slugs, for the decisions' explanations."""
    names = {str(k): v.lower() for k, v in PRIORITY_LABELS.items()}
    topics, queues = services.reference_lookups()
    names.update({slug: topic.label for slug, topic in topics.items()})
    names.update({slug: queue.name for slug, queue in queues.items()})
    return names


def topic_choices() -> list[tuple[str, str]]:
    """(slug, label) of the topics in display order, labelled in the user's language."""
    topics = services.reference_lookups()[0].values()
    english = str(get_locale()) == "en"
    return [(t.slug, t.label_en if english and t.label_en else t.label)
            for t in sorted(topics, key=lambda t: (t.position, t.id))]


def referent_groups() -> list[tuple[int, str]]:
    """(id, name) of the référent groups by name."""
    queues = services.reference_lookups()[1].values()
    return [(q.id, q.name) for q in sorted(queues, key=lambda q: q.name) if q.is_referent_group]


def queue_choices() -> list[tuple[str, str]]:
    """(slug, name) of the active queues, référent groups included, by name."""
    queues = services.reference_lookups()[1].values()
    return [(q.slug, q.name) for q in sorted(queues, key=lambda q: q.name) if q.active]


def active_loads(user_ids: list[int] | None = None) -> dict[int, int]:
    """Active tickets per assignee (only these users when given)."""
    query = (sa.select(Ticket.assignee_id, sa.func.count())
             .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(ACTIVE_STATUSES)))
    if user_ids is not None:
        query = query.where(Ticket.assignee_id.in_(user_ids))
    return {user_id: n for user_id, n in db.session.execute(query.group_by(Ticket.assignee_id))}


def active_users_with_loads(user_ids: list[int], *, members_of: Queue | None = None) -> dict[int, tuple[User, int]]:
    """The active users among these, with their roles and their active tickets, in one statement.

    ``members_of``: the same statement also reads the queue's active members, kept for the notifications of
    the submission under way (tickets.queries.queue_member_users), and returns only ``user_ids``."""
    load = (sa.select(sa.func.count(Ticket.id))
            .where(Ticket.assignee_id == User.id, Ticket.status.in_(ACTIVE_STATUSES))
            .correlate(User).scalar_subquery())
    wanted = User.id.in_(user_ids)
    member = sa.literal(False)
    if members_of is not None:
        member = sa.exists().where(QueueMember.user_id == User.id, QueueMember.queue_id == members_of.id)
        wanted = sa.or_(wanted, member)
    rows = db.session.execute(
        sa.select(User, load, member).options(sa.orm.joinedload(User.roles))
        .where(wanted, User.active.is_(True)).order_by(User.id)
    ).unique().all()
    if members_of is not None:
        queries.remember_members(members_of.id, [user for user, _n, is_member in rows if is_member])
    return {user.id: (user, n) for user, n, _m in rows if user.id in set(user_ids)}


def init_app(app: Flask) -> None:
    """Give the expert module the facts it shows and checks (labels, choices, loads)."""
    expert.add_provider(app, "labels", labels)
    expert.add_provider(app, "topics", topic_choices)
    expert.add_provider(app, "referent_groups", referent_groups)
    expert.add_provider(app, "active_loads", active_loads)
    expert.add_provider(app, "queues", queue_choices)


# --- Référent choice ------------------------------------------------------------------------------------


def pick_referent(queue: Queue, *, for_submission: bool = False, topic: str | None = None,
                  call: str | None = None) -> User | None:
    """The référent the expert module picks in a group for a question (see referent_choice)."""
    return referent_choice(queue, for_submission=for_submission, topic=topic, call=call)[0]


def referent_choice(queue: Queue, *, for_submission: bool = False, topic: str | None = None,
                    call: str | None = None) -> tuple[User | None, str]:
    """The référent for a question on ``topic`` about ``call`` and why: by expertise, availability (absences
    included) and load under their maximum (expert.choose_referent); a group without profiles gives the least
    loaded member (lowest id). None: nobody fits, the ticket stays in the group's queue.

    ``for_submission``: the group's members are read in the same statement, for the submission's notices."""
    slots = expert.referent_slots(queue.id)
    if slots:
        found = active_users_with_loads([s.user_id for s in slots], members_of=queue if for_submission else None)
        return expert.choose_referent(slots, found, topic=topic, call=call)
    members = db.session.scalars(
        sa.select(User).join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue.id, User.active.is_(True))
    ).all()
    if not members:
        return None, "le groupe n'a ni référent ni membre actif : la demande reste dans sa file"
    loads = active_loads([m.id for m in members])
    chosen = min(members, key=lambda m: (loads.get(m.id, 0), m.id))
    return chosen, f"membre le moins chargé du groupe : {chosen.name} (charge {loads.get(chosen.id, 0)})"


# --- Triage of a new ticket -----------------------------------------------------------------------------


def _question_facts(ticket: Ticket, message: Message | None) -> dict:
    """What the expert module decides on, from the ticket and the requester's first message."""
    if ticket.project is not None:  # linked (tickets.linking): by the field, the text or the sender
        call, state = ticket.project.call_code, ticket.project.state
    else:
        call, state = expert.project_context(ticket.project_reference)
    return {"subject": ticket.subject, "body": message.body if message is not None else "",
            "topic": ticket.topic.slug if ticket.topic else None, "call": call,
            "profiles": expert.requester_profiles(ticket.requester), "project_state": state,
            "channel": ticket.channel}


def triage_ticket(ticket: Ticket, message: Message | None = None, *, now: datetime | None = None) -> TriageDecision:
    """Ask the expert module what to do with a new ticket, then apply its decision.

    A submission with the semantic channel on (KB_SEMANTIC_AFTER_COMMIT) is matched with the lexical channel
    only; if that leaves it to a person, its decision is marked for a second look with both channels after the
    commit (second_looks), which the outbox worker, woken by the commit, runs within a second.
    """
    now = now or ticket.created_at or utcnow()
    later = services.current_opening(ticket) is not None and expert.semantic_after_commit()
    with expert.lexical_matching() if later else nullcontext():
        question, version, decision, articles = expert.decide(**_question_facts(ticket, message), today=now.date())
    services.ensure_reference(ticket, now)  # after the matching: see ensure_reference
    record = expert.record_decision(ticket.id, question, version, decision, now=now)
    record.ticket = ticket  # the ticket may not be inserted yet (a submission writes it at the end)
    _apply(ticket, decision, record, articles, now)
    if later and record.action == Outcome.HUMAN and not decision.require_human:
        record.second_look_at = now
        expert.add_note(record, "rapprochement lexical seul au dépôt : le canal sémantique relit la question "
                                "juste après l'enregistrement")
        wake_worker()
    if decision.hits:  # the decision row is the full record; the audit trail notes only rules that fired
        services.record_event(ticket, "triage", None, at=now, action=record.action, rules=decision.rules_matched,
                              article=record.article_id, confidence=record.confidence)
    services.flush_unless_opening(ticket)
    return record


# --- The semantic channel's second look, after the submission's commit --------------------------------------


def second_looks(*, now: datetime | None = None, limit: int = 50) -> dict[str, int]:
    """Look again, with both channels, at the submissions the lexical channel left to a person (oldest first).

    A ticket still untouched (new or open, nobody assigned, no answer yet) that the fused matching now answers
    confidently gets the automatic answer (article or passage) as if triage had found it at once: its message,
    the « auto_answered » status, the decision updated with the rules that fired, an audit event, and the
    requester's e-mail. Otherwise the decision only keeps the better candidates and a note. Each decision is
    looked at once; rows are claimed with SKIP LOCKED, so several workers never take the same one.
    """
    now = now or utcnow()
    records = db.session.scalars(
        sa.select(TriageDecision).where(TriageDecision.second_look_at.is_not(None))
        .order_by(TriageDecision.second_look_at, TriageDecision.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    counts = {"looked": 0, "answered": 0, "skipped": 0}
    for record in records:
        record.second_look_at = None
        ticket = db.session.get(Ticket, record.ticket_id)
        if ticket is None or not _untouched(ticket):
            expert.add_note(record, "seconde lecture sans objet : la demande a été prise en charge entre-temps")
            counts["skipped"] += 1
            continue
        counts["looked"] += 1
        counts["answered"] += _second_look(ticket, record, now)
    db.session.flush()
    return counts


def _untouched(ticket: Ticket) -> bool:
    """Nobody has dealt with the ticket since its submission: new or open, nobody assigned, no answer, no message
    after the first (a note, a reply, the requester writing again) and no change made by a member of staff."""
    if ticket.status not in (Status.NEW, Status.OPEN) or ticket.assignee_id is not None:
        return False
    if ticket.first_responded_at is not None:
        return False
    messages = db.session.scalar(sa.select(sa.func.count()).where(Message.ticket_id == ticket.id))
    by_someone = TicketEvent.actor_id.is_not(None)
    if ticket.requester_id is not None:
        by_someone = sa.and_(by_someone, TicketEvent.actor_id != ticket.requester_id)
    changed = db.session.scalar(sa.select(sa.exists().where(TicketEvent.ticket_id == ticket.id, by_someone)))
    return messages <= 1 and not changed


def _second_look(ticket: Ticket, record: TriageDecision, now: datetime) -> bool:
    """Decide again with both channels; apply an automatic answer found this time. Returns whether it answered."""
    message = db.session.scalar(
        sa.select(Message).where(Message.ticket_id == ticket.id, Message.author_kind == AuthorKind.REQUESTER)
        .order_by(Message.id).limit(1))
    calls = {"stated_call": record.call_code} if record.call_source == "form" else (
        {"chosen_call": record.call_code} if record.call_source == "choice" else {})
    question, version, decision, articles = expert.decide(**_question_facts(ticket, message), today=now.date(),
                                                          **calls)
    record.candidates = [asdict(c) for c in decision.candidates][:5]
    article = articles.get(decision.article_id) if decision.action == Outcome.AUTO_ANSWERED else None
    passage = _quotable_passage(decision) if article is None else None
    if article is None and passage is None:
        confidence = f"{decision.confidence:.2f}".replace(".", ",")
        expert.add_note(record, f"seconde lecture avec le canal sémantique : pas de réponse assez sûre "
                                f"(confiance {confidence}), la demande reste à traiter")
        return False
    record.rules_matched, record.rule_set_version = decision.to_dict()["rules"], version
    expert.set_action(record, Outcome.AUTO_ANSWERED)
    if article is not None:
        record.confidence = decision.confidence
        expert.add_note(record, "seconde lecture avec le canal sémantique : réponse par l'article "
                                f"« {article.question} »")
        expert.answer_with(record, article)
        auto_answer(ticket, article, now=now)
    else:
        _answer_with_passage(ticket, record, passage, now,
                             "seconde lecture avec le canal sémantique : réponse par un passage de document d'appel, "
                             "à confirmer par le demandeur")
    services.record_event(ticket, "triage", None, at=now, action=record.action, rules=decision.rules_matched,
                          article=record.article_id, confidence=record.confidence, second_look=True)
    db.session.flush()
    announce_auto_answer(ticket, decision=record)
    return True


def _apply(ticket: Ticket, decision, record: TriageDecision, articles: dict, now: datetime) -> None:
    topic = services.topic_with_slug(decision.topic) if decision.topic else None
    queue = services.queue_with_slug(decision.route_to) if decision.route_to else None
    if decision.topic and topic is None:
        expert.add_note(record, f"thème « {decision.topic} » inconnu : ignoré")
    if decision.route_to and queue is None:
        expert.add_note(record, f"file « {decision.route_to} » inconnue : orientation ignorée")
        if record.action == Outcome.ROUTED:
            expert.set_action(record, Outcome.HUMAN)
    if queue is None and topic is not None and topic.default_queue is not None:
        queue = topic.default_queue
    services.update_ticket(ticket, by=None, priority=decision.priority, topic=topic, queue=queue, now=now)
    article = articles.get(decision.article_id) if decision.action == Outcome.AUTO_ANSWERED else None
    if article is not None:
        expert.answer_with(record, article)
        auto_answer(ticket, article, now=now)
    elif decision.action == Outcome.AUTO_ANSWERED:
        expert.add_note(record, "l'article choisi n'est plus proposé (retiré entre-temps) : réponse automatique "
                                "écartée")
        expert.set_action(record, Outcome.HUMAN)
    passage = _quotable_passage(decision)
    if record.action == Outcome.HUMAN and passage is not None:
        _answer_with_passage(ticket, record, passage, now,
                             "réponse par un passage de document d'appel, à confirmer par le demandeur")
    if record.action == Outcome.ROUTED and ticket.queue.is_referent_group:
        referent, why = referent_choice(ticket.queue, for_submission=services.current_opening(ticket) is not None,
                                        topic=ticket.topic.slug if ticket.topic else None,
                                        call=getattr(record, "call_code", None))
        expert.add_note(record, why)
        if referent is not None:
            services.assign_ticket(ticket, referent, by=None, now=now)


def _quotable_passage(decision):
    """The passage of a call document the decision may quote: none when a rule routes or requires a person."""
    if decision.passage is None or decision.route_to or decision.require_human:
        return None
    return decision.passage


def _answer_with_passage(ticket: Ticket, record: TriageDecision, passage, now: datetime, note: str) -> None:
    """Answer by quoting ``passage``: the decision records it (with ``note``) and the ticket gets its message."""
    expert.add_note(record, note)
    expert.set_action(record, Outcome.AUTO_ANSWERED)
    record.confidence = passage.confidence
    expert.answer_with_passage(record, passage)
    passage_answer(ticket, passage, now=now)


def auto_answer(ticket: Ticket, article, *, now: datetime) -> Message:
    """Answer the ticket from an article: a public system message and the « auto_answered » status."""
    message = Message(ticket=ticket, author_kind=AuthorKind.SYSTEM, author_name=expert.AUTO_ANSWER_AUTHOR,
                      body=expert.auto_answer_body(article), internal=False, created_at=now)
    db.session.add(message)
    services.record_event(ticket, "auto_answer", None, at=now, article=article.external_id)
    services.change_status(ticket, Status.AUTO_ANSWERED, by=None, now=now, reason="réponse automatique")
    return message


def passage_answer(ticket: Ticket, passage, *, now: datetime) -> Message:
    """Answer the ticket by quoting a passage of a call document: like an article's answer, it waits for the
    requester (« Cela répond à ma question » or « J'ai besoin d'un conseiller »), never closes by itself."""
    message = Message(ticket=ticket, author_kind=AuthorKind.SYSTEM, author_name=expert.AUTO_ANSWER_AUTHOR,
                      body=expert.passage_answer_body(passage), internal=False, created_at=now)
    db.session.add(message)
    services.record_event(ticket, "auto_answer", None, at=now, passage=passage.passage_id)
    services.change_status(ticket, Status.AUTO_ANSWERED, by=None, now=now, reason="réponse par un passage")
    return message


def announce_auto_answer(ticket: Ticket, access_key: str | None = None, decision: TriageDecision | None = None,
                         first_message: Message | None = None) -> None:
    """Once the ticket exists, send expert's « auto_answered » signal with the requester's key for the link.

    ``decision``: the one triage just took, when the caller has it (else the ticket's latest is read);
    ``first_message``: the requester's first message, when the ticket has just been created.
    """
    if ticket.status != Status.AUTO_ANSWERED:
        return
    decision = decision if decision is not None else expert.latest_decision(ticket)
    if decision is None:
        return
    passage = expert.decision_passage(decision) if decision.article_id is None else None
    if decision.article_id is None and passage is None:
        return
    article = expert.decision_article(decision)
    expert_signals.auto_answered.send(ticket, article=article, decision=decision, access_key=access_key,
                                      first_message=first_message, **({"passage": passage} if passage else {}))


# --- The requester's answer to an automatic reply ---------------------------------------------------------


def _waiting_decision(ticket: Ticket) -> TriageDecision:
    try:
        return expert.waiting_decision(ticket, auto_answered=ticket.status == Status.AUTO_ANSWERED)
    except expert.ExpertError as error:
        raise TicketError(str(error)) from None


def confirm_answer(ticket: Ticket, *, by: User | None, now: datetime | None = None) -> TriageDecision:
    """The requester says the automatic answer solved it: resolved, counted as deflected."""
    now = now or utcnow()
    decision = _waiting_decision(ticket)
    services.record_event(ticket, "auto_answer_confirmed", by, at=now)
    services.resolve_ticket(ticket, by=by, now=now)
    expert.record_outcome(decision, Outcome.DEFLECTED, now=now)
    return decision


def ask_advisor(ticket: Ticket, *, by: User | None, now: datetime | None = None) -> TriageDecision:
    """The requester wants a person: open, routed to the rule's group or the topic's queue; SLA from submission."""
    now = now or utcnow()
    decision = _waiting_decision(ticket)
    queue = None
    if decision.route_to:
        queue = services.queue_with_slug(decision.route_to)
    if queue is None and ticket.topic is not None:
        queue = ticket.topic.default_queue
    services.record_event(ticket, "advisor_requested", by, at=now)
    services.change_status(ticket, Status.OPEN, by=by, now=now, reason="conseiller demandé")
    services.update_ticket(ticket, by=by, queue=queue, now=now)
    if ticket.assignee_id is None and ticket.queue.is_referent_group:
        referent = pick_referent(ticket.queue, topic=ticket.topic.slug if ticket.topic else None,
                                 call=getattr(decision, "call_code", None))
        if referent is not None:
            services.assign_ticket(ticket, referent, by=None, now=now)
    expert.record_outcome(decision, Outcome.ESCALATED, now=now)
    expert_signals.advisor_requested.send(ticket, decision=decision, queue=ticket.queue)
    return decision


def on_requester_reply(ticket: Ticket, message: Message | None = None) -> None:
    """A requester who writes back instead of using the buttons wants an advisor."""
    if ticket.status == Status.AUTO_ANSWERED:
        ask_advisor(ticket, by=message.author if message is not None else None,
                    now=message.created_at if message is not None else None)
