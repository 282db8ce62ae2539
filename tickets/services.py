"""Ticket lifecycle: create, reply, note, claim, assign, change status, merge. Services flush; callers commit."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from crm.core import refcache
from crm.core.database import dialect_insert
from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.core.security import token_digest
from notifications.emails import new_message_id
from tickets import linking, reference, signals
from tickets.attachments import IncomingFile, check_files, store_file
from tickets.models import (
    ACTIVE_STATUSES,
    Attachment,
    AuthorKind,
    Channel,
    Message,
    Priority,
    Queue,
    ReferenceCounter,
    Status,
    Ticket,
    TicketEvent,
    Topic,
)
from tickets.sla_tracking import choose_sla_policy, current_opening, recompute_sla, remember_event


class TicketError(ValueError):
    """A ticket operation was refused; the message is shown to the user."""


#: Allowed status transitions (the requester's reply and reopening go through their own services).
TRANSITIONS = {
    Status.NEW: {Status.OPEN, Status.WAITING, Status.RESOLVED, Status.AUTO_ANSWERED, Status.CLOSED},
    Status.OPEN: {Status.WAITING, Status.RESOLVED, Status.CLOSED},
    Status.WAITING: {Status.OPEN, Status.RESOLVED, Status.CLOSED},
    Status.AUTO_ANSWERED: {Status.OPEN, Status.WAITING, Status.RESOLVED, Status.CLOSED},
    Status.RESOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}


def check_access_key(ticket: Ticket, key: str | None) -> bool:
    """True when the key opens this ticket (constant-time comparison)."""
    return bool(key) and hmac.compare_digest(ticket.access_key_hash, token_digest(key))


#: the year's next number on PostgreSQL, built once (a submission neither builds nor compiles it again)
_NEXT_NUMBER = sa.select(sa.func.ticket_reference_next(sa.bindparam("year", type_=sa.Integer)))


def next_reference(year: int) -> str:
    """Take the next number of the year: DEM-2026-000123. On PostgreSQL from the year's sequence (one statement,
    no lock held until the commit; a rolled-back transaction leaves a gap: tickets.models.REFERENCE_FUNCTION); on
    SQLite from the year's counter row (the database has one writer at a time, so a lock costs nothing there)."""
    if db.session.get_bind().dialect.name == "postgresql":
        number = db.session.execute(_NEXT_NUMBER, {"year": year}).scalar_one()
        return f"DEM-{year}-{number:06d}"
    table = ReferenceCounter.__table__
    statement = (
        dialect_insert(table).values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    number = db.session.execute(statement).scalar_one()
    return f"DEM-{year}-{number:06d}"


def ensure_reference(ticket: Ticket, now: datetime) -> None:
    """Number a ticket being opened (tickets.workflow), as late as possible: on SQLite the year's counter row is
    written, and the database locked, until the commit (not during the matching)."""
    if ticket.reference is None:
        ticket.reference = next_reference(now.astimezone(UTC).year)


def record_event(ticket: Ticket, kind: str, actor: User | None = None, at: datetime | None = None,
                 **data) -> TicketEvent:
    """Append a change to the ticket's audit trail (while the ticket is opened: written with the others)."""
    event = TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=actor.id if actor is not None else None,
                        data=data, created_at=at or utcnow())
    if not remember_event(ticket, event):
        event.ticket, event.actor = ticket, actor
        db.session.add(event)
    return event


def reference_lookups() -> tuple[dict[str, Topic], dict[str, Queue]]:
    """Every topic and every queue by slug: read-only rows of the process cache (tickets.reference)."""
    ref = reference.reference()
    return ref.topics, ref.queues


def queue_with_slug(slug: str) -> Queue | None:
    """The queue with this slug (active or not), in the session, or None."""
    return refcache.attach(reference.reference().queues.get(slug))


def topic_with_slug(slug: str) -> Topic | None:
    """The topic with this slug (active or not), in the session, or None."""
    return refcache.attach(reference.reference().topics.get(slug))


def flush_unless_opening(ticket: Ticket) -> None:
    """Flush, except while the ticket is being opened: its changes then go in the submission's final flush."""
    if current_opening(ticket) is None:
        db.session.flush()


def default_queue() -> Queue:
    """The queue that receives requests no rule or topic routes elsewhere."""
    queues = reference.reference().queues
    queue = queues.get("support") or min((q for q in queues.values() if q.active), key=lambda q: q.id, default=None)
    if queue is None:
        raise TicketError(_("Aucune file d'attente n'est configurée."))
    return refcache.attach(queue)


def topic_by_slug(slug: str | None) -> Topic | None:
    """The topic with this slug, or None."""
    if not slug:
        return None
    topic = topic_with_slug(slug)
    if topic is None:
        raise TicketError(_("Thème inconnu : %(slug)s.", slug=slug))
    return topic


def _attach(message: Message, files: list[IncomingFile]) -> None:
    if "attachments" not in message.__dict__:  # reading it on a new message would not keep it: set it
        message.attachments = []  # a new message's collection starts empty here: never read back from the database
    for f in check_files(list(files)):
        name, content_type, digest, size = store_file(f)
        message.attachments.append(
            Attachment(filename=name, content_type=content_type, sha256=digest, size=size)
        )


def requester_label(ticket: Ticket) -> str:
    """The requester as a message's author: their name, else their address (cut to the column's length)."""
    return (ticket.requester_name or ticket.requester_email)[:Message.author_name.type.length]


def open_ticket(*, subject: str, body: str, requester_email: str, requester_name: str = "",
                  requester: User | None = None, topic: str | None = None, priority: str = Priority.NORMAL,
                  channel: str = Channel.WEB, project_reference: str | None = None,
                  organisation_id: int | None = None, project_id: int | None = None,
                  service_tier: str | None = None, attachments=(), actor: User | None = None,
                  locale: str = "fr", queue: Queue | None = None, created_at: datetime | None = None,
                  email_message_id: str | None = None) -> tuple[Ticket, Message, str]:
    """The ticket, its first message and its "created" event; tickets.workflow triages and times it."""
    subject, body = subject.strip(), body.strip()
    if not subject or not body:
        raise TicketError(_("L'objet et le message sont obligatoires."))
    if priority not in set(Priority):
        raise TicketError(_("Priorité inconnue : %(priority)s.", priority=priority))
    if channel not in set(Channel):
        raise TicketError(_("Canal inconnu : %(channel)s.", channel=channel))
    if len(requester_email.strip()) > Ticket.requester_email.type.length:
        raise TicketError(_("L'adresse électronique est trop longue (254 caractères au plus)."))
    now = created_at or utcnow()
    topic_row = topic_by_slug(topic)
    key = secrets.token_urlsafe(24)
    ticket = Ticket(
        reference=None if current_opening() is not None else next_reference(now.astimezone(UTC).year),
        subject=subject[:200], status=Status.NEW,
        priority=priority, channel=channel, topic=topic_row,
        queue=queue or (topic_row.default_queue if topic_row and topic_row.default_queue else default_queue()),
        requester=requester, requester_email=requester_email.strip().lower(),
        requester_name=(requester_name.strip() or (requester.name if requester else ""))[:200],
        requester_locale=locale, project_reference=(project_reference or "").strip() or None,
        service_tier=service_tier, access_key_hash=token_digest(key), created_at=now, updated_at=now,
    )
    linking.link_ticket(ticket, body=body, project_id=project_id, organisation_id=organisation_id)
    message = Message(ticket=ticket, author=requester, author_kind=AuthorKind.REQUESTER,
                      author_name=requester_label(ticket), body=body,
                      channel=channel, created_at=now, email_message_id=email_message_id)
    _attach(message, attachments)
    db.session.add(ticket)
    scope = current_opening()
    if scope is not None and scope.ticket is None:
        scope.ticket = ticket  # inserted at the end of the submission with its final state, its events after it
    else:
        db.session.flush()
    record_event(ticket, "created", actor or requester, at=now, channel=channel, queue=ticket.queue.slug,
                 priority=priority, topic=topic_row.slug if topic_row else None)
    return ticket, message, key


def apply_sla_policy(ticket: Ticket, *, by: User | None = None, now: datetime | None = None) -> None:
    """(Re)choose the SLA policy from the ticket's tier, priority, topic and queue; record why."""
    policy, reason = choose_sla_policy(ticket)
    if ticket.tier_origin:  # the tier and where it comes from (tickets.linking), then the policy's own reason
        reason = f"{ticket.tier_origin}. {reason}"
    if policy is not ticket.sla_policy or reason != ticket.sla_reason:
        previous = ticket.sla_policy.name if ticket.sla_policy else None
        ticket.sla_policy = policy
        ticket.sla_reason = reason
        record_event(ticket, "sla_policy", by, at=now, before=previous,
                     after=policy.name if policy else None, reason=reason)
    recompute_sla(ticket, now)


def _set_status(ticket: Ticket, status: str, by: User | None, now: datetime, *, announce: bool = True,
                **extra) -> None:
    """Change the status and record it; ``announce=False``: the caller sends ticket_resolved itself, later."""
    before = ticket.status
    if before == status:
        return
    ticket.status = status
    ticket.updated_at = now
    if status == Status.RESOLVED:
        ticket.resolved_at = now
    elif status == Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif before in (Status.RESOLVED, Status.CLOSED):
        ticket.resolved_at = None
        ticket.closed_at = None
    record_event(ticket, "status", by, at=now, before=before, after=status, **extra)
    if status == Status.RESOLVED and announce:
        signals.ticket_resolved.send(ticket, by=by)


def change_status(ticket: Ticket, status: str, *, by: User | None, now: datetime | None = None,
                  reason: str = "") -> None:
    """Move the ticket to an allowed status; the SLA clock pauses or resumes accordingly."""
    now = now or utcnow()
    if status not in set(Status):
        raise TicketError(_("Statut inconnu : %(status)s.", status=status))
    if status == ticket.status:
        return
    if status not in TRANSITIONS[Status(ticket.status)]:
        raise TicketError(_("Impossible de passer de « %(status)s » à ce statut.", status=_(ticket.status_label)))
    _set_status(ticket, status, by, now, **({"reason": reason} if reason else {}))
    recompute_sla(ticket, now)


def resolve_ticket(ticket: Ticket, *, by: User | None, now: datetime | None = None) -> None:
    """Mark the request answered; the resolution clock stops."""
    change_status(ticket, Status.RESOLVED, by=by, now=now)


def put_on_hold(ticket: Ticket, *, by: User | None, now: datetime | None = None) -> None:
    """Wait for the requester; both clocks pause."""
    change_status(ticket, Status.WAITING, by=by, now=now)


def reopen_ticket(ticket: Ticket, *, by: User | None, now: datetime | None = None) -> None:
    """Reopen a resolved ticket; the resolution clock resumes where it stopped."""
    if ticket.status != Status.RESOLVED:
        raise TicketError(_("Seule une demande résolue peut être rouverte."))
    change_status(ticket, Status.OPEN, by=by, now=now)


def within_reopen_window(ticket: Ticket, now: datetime | None = None) -> bool:
    """True when a requester reply may still reopen this resolved ticket."""
    now = now or utcnow()
    if ticket.status != Status.RESOLVED or ticket.resolved_at is None:
        return False
    return now - ticket.resolved_at <= timedelta(days=current_app.config["REOPEN_WINDOW_DAYS"])


def reply_to_ticket(ticket: Ticket, *, author: User, body: str, attachments=(), now: datetime | None = None,
                    next_status: str | None = None, channel: str = Channel.WEB) -> Message:
    """A public staff reply; the first one stops the first-response clock."""
    now = now or utcnow()
    body = body.strip()
    if not body:
        raise TicketError(_("Le message est vide."))
    if ticket.status == Status.CLOSED:
        raise TicketError(_("Cette demande est clôturée."))
    message = Message(ticket=ticket, author=author, author_kind=AuthorKind.STAFF, author_name=author.name,
                      body=body, internal=False, channel=channel, created_at=now,
                      # the Message-ID of the e-mail that will carry it, chosen now: written with the message
                      email_message_id=new_message_id() if ticket.requester_email else None)
    _attach(message, attachments)
    db.session.add(message)
    record_event(ticket, "reply", author, at=now)
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    if ticket.assignee_id is None:
        _assign(ticket, author, by=author, now=now)
    target = next_status or (Status.OPEN if ticket.status in (Status.NEW, Status.AUTO_ANSWERED) else None)
    resolving = target == Status.RESOLVED and ticket.status != Status.RESOLVED
    if target and target != ticket.status:
        if target not in TRANSITIONS[Status(ticket.status)]:
            raise TicketError(_("Statut demandé incompatible avec l'état de la demande."))
        # resolved by this reply: announced after it, so that the reply's e-mail is written (and sent) first
        _set_status(ticket, target, author, now, announce=False)
    ticket.updated_at = now
    recompute_sla(ticket, now)  # before the flush: the ticket is written once, its SLA columns with the rest
    db.session.flush()
    signals.ticket_replied.send(ticket, message=message)
    if resolving:
        signals.ticket_resolved.send(ticket, by=author)
    return message


def record_requester_reply(ticket: Ticket, *, body: str, author: User | None = None, attachments=(),
                           now: datetime | None = None, channel: str = Channel.WEB,
                           email_message_id: str | None = None) -> Message:
    """The requester's message: waiting tickets resume, resolved ones reopen within the window."""
    now = now or utcnow()
    body = body.strip()
    if not body:
        raise TicketError(_("Le message est vide."))
    if ticket.status == Status.CLOSED or (ticket.status == Status.RESOLVED and not within_reopen_window(ticket, now)):
        raise TicketError(_("Cette demande est close : veuillez déposer une nouvelle demande."))
    message = Message(ticket=ticket, author=author, author_kind=AuthorKind.REQUESTER,
                      author_name=requester_label(ticket), body=body,
                      channel=channel, created_at=now, email_message_id=email_message_id)
    _attach(message, attachments)
    db.session.add(message)
    record_event(ticket, "requester_reply", author, at=now)
    if ticket.status in (Status.WAITING, Status.RESOLVED):
        _set_status(ticket, Status.OPEN, author, now, reason="réponse du demandeur")
    ticket.updated_at = now
    recompute_sla(ticket, now)  # before the flush: the ticket is written once, its SLA columns with the rest
    db.session.flush()
    return message


def add_internal_note(ticket: Ticket, *, author: User, body: str, now: datetime | None = None) -> Message:
    """A note for staff only; it never reaches the requester and does not count as a response."""
    now = now or utcnow()
    body = body.strip()
    if not body:
        raise TicketError(_("La note est vide."))
    message = Message(ticket=ticket, author=author, author_kind=AuthorKind.STAFF, author_name=author.name,
                      body=body, internal=True, created_at=now)
    db.session.add(message)
    record_event(ticket, "note", author, at=now)
    db.session.flush()
    return message


def _assign(ticket: Ticket, assignee: User | None, *, by: User | None, now: datetime) -> None:
    previous = ticket.assignee
    if (previous.id if previous else None) == (assignee.id if assignee else None):
        return
    ticket.assignee = assignee
    ticket.updated_at = now
    record_event(ticket, "assignee", by, at=now, before=previous.name if previous else None,
                 after=assignee.name if assignee else None)
    signals.ticket_assigned.send(ticket, assignee=assignee, previous=previous, by=by)


def assign_ticket(ticket: Ticket, assignee: User | None, *, by: User | None, now: datetime | None = None) -> None:
    """Give the ticket to a staff member (or to nobody)."""
    if assignee is not None and not assignee.is_staff:
        raise TicketError(_("Une demande ne peut être attribuée qu'à un membre de l'équipe."))
    _assign(ticket, assignee, by=by, now=now or utcnow())
    if ticket.status == Status.NEW and assignee is not None:
        _set_status(ticket, Status.OPEN, by, now or utcnow())
        recompute_sla(ticket, now)


def claim_ticket(ticket: Ticket, agent: User, *, now: datetime | None = None) -> bool:
    """Take an unassigned ticket; exactly one of concurrent claimers wins (conditional update)."""
    now = now or utcnow()
    result = db.session.execute(
        sa.update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id.is_(None))
        .values(assignee_id=agent.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(ticket)
        return False
    db.session.refresh(ticket)
    record_event(ticket, "assignee", agent, at=now, before=None, after=agent.name, claimed=True)
    signals.ticket_assigned.send(ticket, assignee=agent, previous=None, by=agent)
    if ticket.status == Status.NEW:
        _set_status(ticket, Status.OPEN, agent, now)
        recompute_sla(ticket, now)
    return True


def claim_next_ticket(agent: User, queue: Queue | None = None, *, now: datetime | None = None) -> Ticket | None:
    """Claim the unassigned active ticket due first, skipping rows another agent is claiming."""
    query = (
        sa.select(Ticket.id)
        .where(Ticket.assignee_id.is_(None), Ticket.status.in_(ACTIVE_STATUSES))
        .order_by(Ticket.next_due_at.is_(None), Ticket.next_due_at, Ticket.id)
        .limit(1)
    )
    if queue is not None:
        query = query.where(Ticket.queue_id == queue.id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for _attempt in range(5):
        ticket_id = db.session.scalar(query)
        if ticket_id is None:
            return None
        ticket = db.session.get(Ticket, ticket_id)
        if claim_ticket(ticket, agent, now=now):
            return ticket
    return None


def update_ticket(ticket: Ticket, *, by: User | None, priority: str | None = None, topic: Topic | None = None,
                  queue: Queue | None = None, now: datetime | None = None) -> list[str]:
    """Change priority, topic or queue; the SLA policy is chosen again. Returns the changed fields."""
    now = now or utcnow()
    changed = []
    if priority is not None and priority != ticket.priority:
        if priority not in set(Priority):
            raise TicketError(_("Priorité inconnue : %(priority)s.", priority=priority))
        record_event(ticket, "priority", by, at=now, before=ticket.priority, after=priority)
        ticket.priority = priority
        changed.append("priority")
    if topic is not None and topic.id != ticket.topic_id:
        record_event(ticket, "topic", by, at=now, before=ticket.topic.label if ticket.topic else None,
                     after=topic.label)
        ticket.topic = topic
        changed.append("topic")
    if queue is not None and queue.id != ticket.queue_id:
        record_event(ticket, "queue", by, at=now, before=ticket.queue.name, after=queue.name)
        ticket.queue = queue
        changed.append("queue")
    if changed:
        ticket.updated_at = now
        flush_unless_opening(ticket)
        apply_sla_policy(ticket, by=by, now=now)
    return changed


def check_merge(duplicate: Ticket, into: Ticket) -> None:
    """Raise TicketError if the duplicate cannot be merged into that ticket (shown before the agent confirms)."""
    if duplicate.id == into.id:
        raise TicketError(_("Une demande ne peut pas être fusionnée avec elle-même."))
    if into.status == Status.CLOSED:
        raise TicketError(_("La demande cible est clôturée."))
    if duplicate.status == Status.CLOSED:
        raise TicketError(_("La demande à fusionner est déjà clôturée."))


def merge_tickets(duplicate: Ticket, into: Ticket, *, by: User, now: datetime | None = None) -> None:
    """Close a duplicate into another ticket; its messages are copied as a note on the target (undo_merge reopens
    it in the status it had, kept in the "merged" event)."""
    now = now or utcnow()
    check_merge(duplicate, into)
    public = db.session.scalars(  # what the transcript needs: not their attachments
        sa.select(Message).where(Message.ticket_id == duplicate.id, Message.internal.is_(False))
        .order_by(Message.created_at, Message.id).options(sa.orm.lazyload(Message.attachments))
    )
    transcript = "\n\n".join(f"[{m.author_name} — {m.created_at:%d/%m/%Y %H:%M} UTC]\n{m.body}" for m in public)
    add_internal_note(into, author=by, now=now,
                      body=f"Demande {duplicate.reference} fusionnée dans celle-ci.\n\n{transcript}")
    duplicate.merged_into = into
    record_event(duplicate, "merged", by, at=now, into=into.reference, status=duplicate.status)
    record_event(into, "merged_from", by, at=now, source=duplicate.reference)
    _set_status(duplicate, Status.CLOSED, by, now, reason=f"fusionnée dans {into.reference}")
    recompute_sla(duplicate, now)


def undo_merge(duplicate: Ticket, *, by: User, now: datetime | None = None) -> Ticket:
    """Take a merged duplicate out of the ticket it was merged into, in the status it had (recorded in the history
    of both; the transcript note stays on the other ticket, marked by the event). Returns that other ticket."""
    now = now or utcnow()
    into = duplicate.merged_into
    if into is None or duplicate.status != Status.CLOSED:
        raise TicketError(_("Cette demande n'est pas fusionnée dans une autre."))
    merged = next((e for e in reversed(duplicate.events) if e.kind == "merged"), None)
    before = (merged.data or {}).get("status") if merged is not None else None
    duplicate.merged_into = None
    record_event(duplicate, "unmerged", by, at=now, source=into.reference)
    record_event(into, "unmerged_from", by, at=now, source=duplicate.reference)
    _set_status(duplicate, before if before in set(Status) and before != Status.CLOSED else Status.OPEN, by, now,
                reason=f"fusion dans {into.reference} annulée")
    recompute_sla(duplicate, now)
    return into


def ticket_by_reference(reference: str) -> Ticket | None:
    """The ticket with this public reference (its assignee's roles are read only if asked: usually the signed-in
    agent's, already loaded)."""
    return db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference.strip().upper())
                             .options(sa.orm.defaultload(Ticket.assignee).lazyload(User.roles)))


def tickets_by_references(references: list[str]) -> dict[str, Ticket]:
    """The tickets with these public references, by reference, in one read (as ticket_by_reference loads them)."""
    wanted = sorted({r.strip().upper() for r in references if r and r.strip()})
    if not wanted:
        return {}
    rows = db.session.scalars(sa.select(Ticket).where(Ticket.reference.in_(wanted))
                              .options(sa.orm.defaultload(Ticket.assignee).lazyload(User.roles)))
    return {t.reference: t for t in rows}


def _links_label(ticket: Ticket) -> str | None:
    """The project and establishment of a ticket, for its history."""
    parts = [ticket.project.reference if ticket.project else "",
             ticket.organisation.name if ticket.organisation else ""]
    return " — ".join(p for p in parts if p) or None


def relink_ticket(ticket: Ticket, *, project, organisation, by: User, now: datetime | None = None) -> bool:
    """An agent links the ticket to a project (or none) and an establishment (None: found from the project, else
    the person); recorded in the history, the SLA policy chosen again with its reason. False if nothing changed."""
    now = now or utcnow()
    before = (ticket.project_id, ticket.organisation_id, ticket.laboratory_id, ticket.link_candidates)
    label = _links_label(ticket)
    links = linking.find_links(email=ticket.requester_email, project=project, organisation=organisation,
                               search_project=False)
    links.origin = (f"{links.origin}, " if links.origin else "") + f"rattachement choisi par {by.name}"
    after = (project.id if project else None, links.organisation.id if links.organisation else None,
             links.laboratory.id if links.laboratory else None, links.candidates)
    if after == before:
        return False
    linking.set_links(ticket, links)
    record_event(ticket, "links", by, at=now, before=label, after=_links_label(ticket))
    ticket.updated_at = now
    db.session.flush()
    apply_sla_policy(ticket, by=by, now=now)
    return True
