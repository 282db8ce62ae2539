"""Factories and fixtures for the CRM and portal tests (import the fixtures you use into the test module)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from crm.organisations.identifiers import luhn_complete
from crm.organisations.models import ContactRole, Organisation, OrgContact, OrgKind, Person
from crm.projects.models import Deliverable, Partner, PaymentLine, Project, TeamMember

_seq = itertools.count(1)


def siren(n: int) -> str:
    return luhn_complete(f"{70000000 + n:08d}")


def siret(siren_: str, n: int) -> str:
    return luhn_complete(f"{siren_}{n:04d}")


def rnsr(n: int) -> str:
    return f"2010{n:05d}K"


def make_org(kind: str = OrgKind.ENTITY, *, name: str | None = None, parent: Organisation | None = None,
             **fields) -> Organisation:
    """An organisation with valid identifiers for its kind."""
    n = next(_seq)
    if kind == OrgKind.HEADQUARTERS:
        fields.setdefault("siren", siren(n))
        fields.setdefault("siret", siret(fields["siren"], 1))
    elif kind == OrgKind.ENTITY:
        base = parent.siren if parent is not None and parent.siren else siren(n)
        fields.setdefault("siret", siret(base, 10 + n))
        fields.setdefault("siren", fields["siret"][:9])
    elif kind == OrgKind.LABORATORY:
        fields.setdefault("rnsr", rnsr(n))
    org = Organisation(code=f"ORG{n}", kind=kind, name=name or f"Organisation {n}", parent=parent, **fields)
    db.session.add(org)
    db.session.flush()
    return org


def make_person(*, email: str | None = None, director_of: Organisation | None = None, **fields) -> Person:
    n = next(_seq)
    person = Person(code=f"PER{n}", email=email or f"personne{n}@labo.example", first_name="Prénom",
                    last_name=fields.pop("last_name", f"Nom{n}"), **fields)
    db.session.add(person)
    db.session.flush()
    if director_of is not None:
        db.session.add(OrgContact(organisation_id=director_of.id, person_id=person.id, role=ContactRole.LAB_DIRECTOR))
        db.session.flush()
    return person


def make_project(*, state: str = "follow_up", coordinator: Person | None = None, **fields) -> Project:
    n = next(_seq)
    fields.setdefault("aid_granted", Decimal("300000.00"))
    fields.setdefault("start_date", date(2025, 1, 1))
    fields.setdefault("scientific_end_date", date(2028, 12, 31))
    project = Project(reference=fields.pop("reference", f"ANR-25-CE01-{n:04d}"),
                      acronym=fields.pop("acronym", f"ACR{n}"), title=f"Projet {n}",
                      call_code=fields.pop("call_code", "AAPG2025"), call_year=2025, state=state,
                      coordinator_id=coordinator.id if coordinator else None, **fields)
    db.session.add(project)
    db.session.flush()
    return project


def make_partner(project: Project, organisation: Organisation, *, laboratory: Organisation | None = None,
                 scientific_lead: Person | None = None, administrative_lead: Person | None = None,
                 lines: tuple[tuple[str, str], ...] = (), **fields) -> Partner:
    """A partner; lines are (amount, paid) pairs of its payment schedule."""
    number = (db.session.scalar(sa.select(sa.func.max(Partner.number)).where(Partner.project_id == project.id))
              or 0) + 1
    partner = Partner(project_id=project.id, number=number, organisation_id=organisation.id,
                      laboratory_id=laboratory.id if laboratory else None,
                      scientific_lead_id=scientific_lead.id if scientific_lead else None,
                      administrative_lead_id=administrative_lead.id if administrative_lead else None, **fields)
    db.session.add(partner)
    db.session.flush()
    for i, (amount, paid) in enumerate(lines, start=1):
        db.session.add(PaymentLine(partner_id=partner.id, number=i, label=f"Échéance {i}", amount=Decimal(amount),
                                   paid_amount=Decimal(paid), due_date=date(2025, i, 1)))
    db.session.flush()
    return partner


def make_team_member(project: Project, person: Person, *, role: str = "Chercheuse", start: date | None = None,
                     end: date | None = None) -> TeamMember:
    member = TeamMember(project_id=project.id, person_id=person.id, role=role, start_date=start, end_date=end)
    db.session.add(member)
    db.session.flush()
    return member


def make_ticket_row(*, organisation: Organisation | None = None, laboratory: Organisation | None = None,
                    project: Project | None = None, **fields):
    """A bare ticket row with its links, no message nor SLA computation (what the portal's requests read)."""
    from crm.core.extensions import utcnow
    from tickets.models import Queue, Status, Ticket

    queue = db.session.scalar(sa.select(Queue).where(Queue.slug == "portail-tests"))
    if queue is None:
        queue = Queue(slug="portail-tests", name="File de test")
        db.session.add(queue)
        db.session.flush()
    n = next(_seq)
    fields.setdefault("created_at", utcnow() - timedelta(days=3))
    ticket = Ticket(reference=f"DEM-2026-9{n:05d}", subject=fields.pop("subject", f"Demande {n}"),
                    status=fields.pop("status", Status.OPEN), queue_id=queue.id,
                    requester_email=f"demandeur{n}@labo.example", requester_name="Jeanne Demandeur",
                    access_key_hash="x" * 64, organisation_id=organisation.id if organisation else None,
                    laboratory_id=laboratory.id if laboratory else None,
                    project_id=project.id if project else None, **fields)
    db.session.add(ticket)
    db.session.flush()
    return ticket


def make_deliverable(project: Project, code: str, due: date, submitted: date | None = None) -> Deliverable:
    deliverable = Deliverable(project_id=project.id, code=code, title=f"Livrable {code}", due_date=due,
                              submitted_on=submitted)
    db.session.add(deliverable)
    db.session.flush()
    return deliverable


def portal_user(make_user, person: Person | None = None, email: str | None = None):
    """A requester account, linked to the person when given."""
    user = make_user("requester", email=email or (person.email if person else None))
    if person is not None:
        person.user_id = user.id
        db.session.flush()
    return user


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """The demo export set, written once (dates relative to a fixed day)."""
    from crm.demo.projects import write_demo_export

    return write_demo_export(tmp_path_factory.mktemp("demo-export"), today=date(2026, 11, 20))


@pytest.fixture
def demo(demo_dir):
    """The demo export set imported in the test's transaction; returns the run."""
    from crm.imports.services import import_directory

    return import_directory(demo_dir, trigger="test")


@pytest.fixture
def tickets_wired(app):
    """Make sure the tickets' portal contact form and 360° panel are registered (the integrator wires them)."""
    from tickets.views import crm_panels, portal_contact

    missing = [m for m, endpoint in ((portal_contact, "portal_contact.report"),
                                     (crm_panels, "tickets_crm_panels")) if endpoint not in app.view_functions
               and endpoint not in app.blueprints]
    if missing:
        started = app._got_first_request
        app._got_first_request = False  # registering late is safe here: tests only add routes
        try:
            for module in missing:
                module.init_app(app)
        finally:
            app._got_first_request = started
    return app
