"""The configuration a new instance starts with, which the administrator then edits.

Migration ``c4f7a2e9b1d3`` writes the same set on a fresh database (``guichet db upgrade``); ``guichet setup
defaults`` and the demo seeder call :func:`install_defaults`, which only adds what is missing (by slug or name).
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from tickets.models import Priority, Queue, SlaCalendar, SlaPolicy, Topic

OFFICE_HOURS = {day: [["09:00", "12:30"], ["13:30", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")}
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OFFICE, ALWAYS_OPEN = "Heures de bureau (Paris)", "24 h/24, 7 j/7"

#: (name, weekly hours, public-holiday country)
CALENDARS = [(OFFICE, OFFICE_HOURS, "FR"), (ALWAYS_OPEN, ALWAYS, None)]
#: (slug, name, description)
QUEUES = [("support", "Support", "File générale : les demandes qu'aucun thème ni règle n'envoie ailleurs.")]
#: (slug, label, English label, default queue)
TOPICS = [("autre", "Autre question", "Other question", "support")]
#: (name, priority, first response minutes, resolution minutes, calendar). One policy per priority; the
#: normal one has no criterion so that topic and queue policies still win for normal requests (a priority
#: criterion outranks a topic one, tickets.sla.choose_policy).
DAY = 450  # a working day of the office calendar, in minutes
POLICIES = [
    ("Standard", None, 2 * DAY, 10 * DAY, OFFICE),
    ("Standard — priorité basse", Priority.LOW.value, 3 * DAY, 15 * DAY, OFFICE),
    ("Standard — priorité haute", Priority.HIGH.value, DAY, 5 * DAY, OFFICE),
    ("Urgence 24/7", Priority.URGENT.value, 4 * 60, 24 * 60, ALWAYS_OPEN),
]
ESCALATION = {"warn_assignee": True, "notify_manager_on_breach": True}


def install_defaults() -> dict[str, int]:
    """Add the default calendars, queue, topic and SLA policies that are missing; flush; counts of rows added."""
    added = {"calendars": 0, "queues": 0, "topics": 0, "policies": 0}
    calendars = {c.name: c for c in db.session.scalars(sa.select(SlaCalendar))}
    for name, hours, country in CALENDARS:
        if name not in calendars:
            calendars[name] = SlaCalendar(name=name, hours=hours, country=country, closed_days=[])
            db.session.add(calendars[name])
            added["calendars"] += 1
    queues = {q.slug: q for q in db.session.scalars(sa.select(Queue))}
    for slug, name, description in QUEUES:
        if slug not in queues:
            queues[slug] = Queue(slug=slug, name=name, description=description)
            db.session.add(queues[slug])
            added["queues"] += 1
    topics = set(db.session.scalars(sa.select(Topic.slug)))
    for slug, label, label_en, queue in TOPICS:
        if slug not in topics:
            db.session.add(Topic(slug=slug, label=label, label_en=label_en, default_queue=queues[queue],
                                 position=100))
            added["topics"] += 1
    policies = set(db.session.scalars(sa.select(SlaPolicy.name)))
    for name, priority, first, resolution, calendar in POLICIES:
        if name not in policies:
            db.session.add(SlaPolicy(name=name, priority=priority, first_response_minutes=first,
                                     resolution_minutes=resolution, calendar=calendars[calendar],
                                     escalation=dict(ESCALATION)))
            added["policies"] += 1
    db.session.flush()
    return added
