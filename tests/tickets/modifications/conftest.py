"""A project with two partners and their leads (accounts), and the modification requests' configuration."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from crm.organisations.models import OrgKind
from tests.factories_crm import make_org, make_partner, make_person, make_project, portal_user
from tickets.attachments import IncomingFile

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(name: str = "lettre.pdf") -> IncomingFile:
    return IncomingFile(name, PDF, "application/pdf")


@pytest.fixture
def modif(reference_data, make_user):
    """world.project (partners 1: coordinator, 2), its people with accounts, an agent, an outsider."""
    from tickets.modifications.demo import seed_reference

    seed_reference()
    university, lab_org = make_org(OrgKind.HEADQUARTERS), make_org(OrgKind.HEADQUARTERS)
    lead, admin, lead2, admin2, outsider = (make_person() for _ in range(5))
    project = make_project(coordinator=lead, aid_granted=Decimal("300000.00"), start_date=date(2025, 1, 1),
                           scientific_end_date=date(2027, 12, 31))
    make_partner(project, university, scientific_lead=lead, administrative_lead=admin, is_coordinator=True,
                 aid_granted=Decimal("200000.00"))
    make_partner(project, lab_org, scientific_lead=lead2, administrative_lead=admin2, aid_granted=Decimal("100000.00"))
    users = {name: portal_user(make_user, person)
             for name, person in (("lead", lead), ("admin", admin), ("lead2", lead2), ("admin2", admin2),
                                  ("outsider", outsider))}
    return SimpleNamespace(project=project, people=SimpleNamespace(lead=lead, admin=admin, lead2=lead2, admin2=admin2,
                                                                 outsider=outsider),
                           agent=make_user("agent"), manager=make_user("manager"), **users)
