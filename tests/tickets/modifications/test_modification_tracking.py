"""The tracking table's query: the same projects as the portal scope with the establishments resolved to their ids
(SIREN with its entities, SIRET, RNSR, person), and its pages read with a next-page probe instead of a count."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from crm.organisations.models import OrgKind
from crm.portal.scope import Profiles, project_scope
from crm.projects.models import Project
from tests.factories_crm import make_org, make_partner, make_person, make_project
from tickets.modifications import queries, services


def test_projects_in_scope_are_the_portal_scope_whatever_the_profile():
    hq = make_org(OrgKind.HEADQUARTERS)
    entity, other = make_org(OrgKind.ENTITY, parent=hq), make_org(OrgKind.HEADQUARTERS)
    lab = make_org(OrgKind.LABORATORY)
    lead = make_person()
    by_entity, by_hq, by_lab, by_lead = (make_project() for _ in range(4))
    hidden = make_project(state="closed")
    make_partner(by_entity, entity)
    make_partner(by_hq, hq)
    make_partner(by_lab, other, laboratory=lab)
    make_partner(by_lead, other, scientific_lead=lead)
    make_partner(hidden, hq)
    cases = [Profiles(sirens=frozenset({hq.siren})), Profiles(sirets=frozenset({entity.siret})),
             Profiles(rnsrs=frozenset({lab.rnsr})), Profiles(person_id=lead.id),
             Profiles(sirens=frozenset({hq.siren}), person_id=lead.id), Profiles(sirens=frozenset({"000000000"})),
             Profiles()]
    for profiles in cases:
        expected = set(db.session.scalars(sa.select(Project.id).where(project_scope(profiles))))
        assert set(db.session.scalars(queries.projects_in_scope(profiles))) == expected, profiles
    assert {by_entity.id, by_hq.id} == set(db.session.scalars(queries.projects_in_scope(cases[0])))


def test_the_tracking_table_pages_with_a_probe(client, login, modif, monkeypatch):
    from tickets.modifications.views import portal

    monkeypatch.setattr(portal, "PER_PAGE", 1)
    first, second = (services.start_draft(modif.project, kind, filer=modif.lead2, person_id=modif.people.lead2.id)
                     for kind in ("extension", "team"))
    second.updated_at = first.updated_at  # the same instant: the id breaks the tie, newest first
    db.session.flush()
    login(modif.lead2)
    page = client.get("/portail/modifications").get_data(as_text=True)
    assert f"BROUILLON-{second.id}" in page and f"BROUILLON-{first.id}" not in page
    assert "Page suivante" in page and "Page précédente" not in page
    page = client.get("/portail/modifications?page=2").get_data(as_text=True)
    assert f"BROUILLON-{first.id}" in page and "Page suivante" not in page and "Page précédente" in page
