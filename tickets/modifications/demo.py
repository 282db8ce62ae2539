"""The modification requests' reference configuration (a topic, référent group and SLA policy per kind) and demo
requests in every state."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from crm.core.models import Role, User, UserRole
from crm.core.services import create_user
from crm.organisations.models import Person
from crm.projects.models import PORTAL_STATES, Partner, Project
from tickets.attachments import IncomingFile
from tickets.models import Queue, SlaCalendar, SlaPolicy, Topic
from tickets.modifications import kinds, services

MINUTES_PER_DAY = 450  # the office calendar's working day (9:00–12:30, 13:30–17:30)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def seed_reference() -> dict[str, Topic]:
    """A topic per kind routed to its référent group, with its SLA policy (idempotent by slug); the base
    configuration (tickets.demo.seed_reference_data) must exist."""
    queues = {q.slug: q for q in db.session.scalars(sa.select(Queue))}
    calendar = db.session.scalar(sa.select(SlaCalendar).order_by(SlaCalendar.id).limit(1))
    topics = {t.slug: t for t in db.session.scalars(sa.select(Topic).where(Topic.slug.like("modification-%")))}
    for position, spec in enumerate(kinds.SPECS.values(), start=50):
        if spec.topic in topics or spec.queue not in queues or calendar is None:
            continue
        label = kinds.KIND_LABELS[spec.kind]
        topic = Topic(slug=spec.topic, label=f"Demande de modification : {label[0].lower()}{label[1:]}"[:120],
                      label_en=f"Modification request: {spec.kind.replace('_', ' ')}", default_queue=queues[spec.queue],
                      position=position, active=False)  # not offered on the public form: filed from the portal
        db.session.add(topic)
        db.session.add(SlaPolicy(name=f"Demandes de modification — {label}"[:120], topic_slug=spec.topic,
                                 first_response_minutes=3 * MINUTES_PER_DAY,
                                 resolution_minutes=spec.resolution_days * MINUTES_PER_DAY, calendar=calendar,
                                 escalation={"warn_assignee": True, "notify_manager_on_breach": True}))
        topics[spec.topic] = topic
    db.session.flush()
    return topics


_VALUES = {
    "extension": lambda p: {"new_end_date": (p.scientific_end_date + timedelta(days=180)).isoformat(),
                            "reason": "Retard de recrutement du post-doctorant."},
    "team": lambda p: {"partner": "1", "change": "add", "person_name": "Claire Martin",
                       "person_email": "claire.martin@labo.example", "person_role": "Ingénieure",
                       "reason": "Renfort de l'équipe."},
}


def _accounts_for_administrative_leads(password: str | None, limit: int = 3) -> None:
    """Portal accounts for a few administrative leads of partners whose scientific lead has one (the other
    party of a co-validation), with the demo password."""
    if not password:
        return
    science = sa.orm.aliased(Person)
    people = db.session.scalars(
        sa.select(Person).join(Partner, Partner.administrative_lead_id == Person.id)
        .join(science, science.id == Partner.scientific_lead_id)
        .where(Person.user_id.is_(None), science.user_id.is_not(None), Person.email.is_not(None),
               science.id != Person.id)
        .order_by(Person.id).distinct().limit(limit)).all()
    for person in people:
        if db.session.scalar(sa.select(User.id).where(User.email == person.email)) is not None:
            continue
        user = create_user(person.email, person.full_name, [Role.REQUESTER], password)
        db.session.flush()
        person.user_id = user.id
    db.session.flush()


def seed_demo(context: dict) -> None:
    """Requests in every state (twice) on the demo partners whose two leads have accounts."""
    seed_reference()
    agent = db.session.scalar(sa.select(User).join(UserRole).where(UserRole.role == Role.AGENT).limit(1))
    if agent is None:
        return
    rng = random.Random(12)
    _accounts_for_administrative_leads(context.get("password"))
    admin = sa.orm.aliased(Person)
    partners = db.session.execute(
        sa.select(Partner, Project).join(Project, Project.id == Partner.project_id)
        .join(Person, Person.id == Partner.scientific_lead_id)
        .join(admin, admin.id == Partner.administrative_lead_id)
        .where(Project.state.in_([str(s) for s in PORTAL_STATES]), Project.scientific_end_date.is_not(None),
               Person.user_id.is_not(None), admin.user_id.is_not(None), Person.id != admin.id)
        .order_by(Project.id, Partner.number).limit(40)).all()
    if not partners:
        return
    plans = [[], ["submit"], ["submit", "co_validate"], ["submit", "co_validate", "request_information"],
             ["submit", "co_validate", "accept"], ["submit", "co_validate", "partly_accept"],
             ["submit", "co_validate", "refuse"], ["submit", "co_validate", "accept", "record"],
             ["submit", "co_validate", "refuse", "close"], ["submit", "withdraw"]]
    now = utcnow()
    for index in range(len(plans) * 2):
        partner, project = partners[index % len(partners)]
        plan = plans[index % len(plans)]
        kind = "extension" if index % 3 else "team"
        filer = db.session.get(Person, partner.scientific_lead_id).user
        start = now - timedelta(days=rng.randint(14, 40))  # every step (at most 4 x 72 h) in the past
        request = services.start_draft(project, kind, filer=filer, person_id=partner.scientific_lead_id,
                                       role="scientific_lead", now=start)
        raw = _VALUES[kind](project)
        services.save_draft(request, raw, by=filer, now=start)
        at = start
        for action in plan:
            at += timedelta(hours=rng.randint(2, 72))
            if action == "submit":
                services.submit_request(request, raw, {"letter": IncomingFile("lettre.pdf", PDF)}, by=filer, now=at)
            elif action == "co_validate":
                other = db.session.get(Person, request.co_validator_person_id)
                services.co_validate(request, by=other.user, person_id=other.id, now=at)
            elif action == "request_information":
                services.request_information(request, by=agent, body="Merci de joindre le calendrier révisé.", now=at)
            elif action in ("accept", "partly_accept", "refuse"):
                services.decide(request, action, by=agent, now=at,
                                reason="Décision prise au vu des pièces et de l'avis du référent.")
            elif action == "record":
                services.record_request(request, by=agent, now=at)
            elif action == "close":
                services.close_request(request, by=agent, now=at)
            elif action == "withdraw":
                services.withdraw_request(request, by=filer, now=at)
