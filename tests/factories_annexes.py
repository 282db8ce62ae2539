"""Fixtures of the annex tests (bind the fixture in the test module): one establishment (headquarters and
entity), another one, a project with a partner in each, portal accounts holding establishment profiles, an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from factories_crm import make_org, make_partner, make_project

from crm.core.extensions import db
from crm.organisations.models import OrgKind
from crm.portal.models import PortalGrant, ProfileKind
from tickets.annexes import budget, services

FIGURES = {"staff": "100000", "equipment": "20000", "missions": "5000", "subcontracting": "0",
           "overheads": "10000", "requested_aid": "135000", "rate": "100"}
TODAY = date(2026, 12, 1)


def grant(user, kind: str, identifier: str) -> None:
    db.session.add(PortalGrant(user_id=user.id, kind=kind, identifier=identifier))
    db.session.flush()


@dataclass
class World:
    hq: object
    entity: object
    other: object
    project: object
    partner: object  # of the entity
    other_partner: object
    referent: object  # designated for the headquarters' SIREN
    colleague: object  # holds the headquarters profile, not designated
    outsider: object  # designated for the other establishment
    agent: object

    def publish(self, partner=None, *, due_on: date | None = None, **changes):
        return services.publish_annex(partner or self.partner, budget.make_figures({**FIGURES, **changes}),
                                      due_on=due_on or TODAY + timedelta(days=10), by=self.agent, today=TODAY)


@pytest.fixture
def world(make_user):
    hq = make_org(OrgKind.HEADQUARTERS, name="Université Exemple")
    entity = make_org(OrgKind.ENTITY, name="Université Exemple — campus Nord", parent=hq)
    other = make_org(OrgKind.ENTITY, name="Institut Autre")
    project = make_project(acronym="ANNEXE")
    partner = make_partner(project, entity)
    other_partner = make_partner(project, other)
    referent = make_user("requester", email="referente@univ.example", name="Référente Siège")
    colleague = make_user("requester", email="collegue@univ.example", name="Collègue Siège")
    outsider = make_user("requester", email="autre@institut.example", name="Référent Autre")
    agent = make_user("agent", email="agent-annexes@agence.example", name="Agent Annexes")
    for user in (referent, colleague):
        grant(user, ProfileKind.HEADQUARTERS, hq.siren)
    grant(outsider, ProfileKind.ENTITY, other.siret)
    services.designate_referent(colleague, ProfileKind.HEADQUARTERS, hq.siren, referent)
    services.designate_referent(outsider, ProfileKind.ENTITY, other.siret, outsider)
    return World(hq, entity, other, project, partner, other_partner, referent, colleague, outsider, agent)
