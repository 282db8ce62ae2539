"""Topics, queues and the active SLA policies, cached per process (see crm.core.refcache for the versions).

Every submission and most agent actions read them; they change a few times a year. The values are detached,
read-only rows: :func:`crm.core.refcache.attach` gives the session's copy of one (no query) to set a relationship.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from crm.core import refcache
from tickets.models import Queue, SlaCalendar, SlaPolicy, Topic

REFERENCE = "tickets.reference"
POLICIES = "tickets.sla_policies"


@dataclass(frozen=True)
class Reference:
    topics: dict[str, Topic]  # every topic by slug, active or not, its default queue loaded
    queues: dict[str, Queue]  # every queue by slug, active or not
    ordered_topics: tuple[Topic, ...]  # the active topics in display order


def _load_reference(session: Session) -> Reference:
    queues = {q.slug: q for q in session.scalars(sa.select(Queue))}
    topics = list(session.scalars(sa.select(Topic)))
    for topic in topics:
        _ = topic.default_queue  # from the identity map: the queues are loaded
    ordered = sorted((t for t in topics if t.active), key=lambda t: (t.position, t.label))
    return Reference({t.slug: t for t in topics}, queues, tuple(ordered))


def _load_policies(session: Session) -> tuple[SlaPolicy, ...]:
    return tuple(session.scalars(
        sa.select(SlaPolicy).options(joinedload(SlaPolicy.calendar), joinedload(SlaPolicy.queue))
        .where(SlaPolicy.active.is_(True)).order_by(SlaPolicy.id)
    ).unique())


refcache.register(REFERENCE, _load_reference, Topic, Queue)
refcache.register(POLICIES, _load_policies, SlaPolicy, SlaCalendar, Queue)


def reference() -> Reference:
    """Every topic and queue (read-only rows)."""
    return refcache.get(REFERENCE)


def active_policies() -> tuple[SlaPolicy, ...]:
    """The active SLA policies with their calendar and queue (read-only rows)."""
    return refcache.get(POLICIES)
