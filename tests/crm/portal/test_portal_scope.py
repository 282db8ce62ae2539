"""The six portal profiles and their union, enforced in the query of every page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from factories_crm import make_org, make_partner, make_person, make_project, portal_user

from crm.core import services
from crm.core.extensions import db
from crm.organisations.models import OrgKind
from crm.portal.models import PortalGrant
from crm.portal.scope import load_profiles, partner_scope, project_scope
from crm.projects.models import Partner, Project


@pytest.fixture
def world():
    """Two establishments, two laboratories, four people and six projects in every state."""
    w = {}
    w["U"] = make_org(OrgKind.HEADQUARTERS, name="Université")
    w["U1"] = make_org(OrgKind.ENTITY, parent=w["U"], name="Composante 1")
    w["U2"] = make_org(OrgKind.ENTITY, parent=w["U"], name="Composante 2")
    w["C"] = make_org(OrgKind.HEADQUARTERS, name="Organisme")
    w["C1"] = make_org(OrgKind.ENTITY, parent=w["C"], name="Délégation")
    w["L1"] = make_org(OrgKind.LABORATORY, name="Labo 1")
    w["L2"] = make_org(OrgKind.LABORATORY, name="Labo 2")
    w["A"], w["B"], w["D"] = make_person(), make_person(), make_person()
    w["E"] = make_person(director_of=w["L1"])
    w["P1"] = make_project(coordinator=w["A"])
    make_partner(w["P1"], w["U1"], laboratory=w["L1"], scientific_lead=w["B"], lines=(("100", "40"),))
    make_partner(w["P1"], w["C1"], laboratory=w["L2"], administrative_lead=w["D"], lines=(("50", "50"),))
    w["P2"] = make_project(state="selected")
    make_partner(w["P2"], w["U2"])
    w["P3"] = make_project(state="closed", coordinator=w["A"])
    make_partner(w["P3"], w["U1"], laboratory=w["L1"], scientific_lead=w["B"])
    w["P4"] = make_project(state="abandoned")
    make_partner(w["P4"], w["C1"], laboratory=w["L1"])
    w["P5"] = make_project(state="contracting", coordinator=w["A"])
    make_partner(w["P5"], w["C1"], laboratory=w["L2"])
    w["P6"] = make_project(state="submission")
    make_partner(w["P6"], w["C1"], laboratory=w["L2"], scientific_lead=w["B"])
    return w


def grant(user, kind: str, identifier: str) -> None:
    db.session.add(PortalGrant(user_id=user.id, kind=kind, identifier=identifier))
    db.session.flush()


def visible(user) -> set[int]:
    return set(db.session.scalars(sa.select(Project.id).where(project_scope(load_profiles(user)))).all())


def ids(w, *names) -> set[int]:
    return {w[n].id for n in names}


def test_headquarters_sees_every_project_under_its_siren(world, make_user):
    user = portal_user(make_user)
    grant(user, "headquarters", world["U"].siren)
    assert visible(user) == ids(world, "P1", "P2")  # P3 is closed


def test_entity_sees_projects_under_its_siret(world, make_user):
    user = portal_user(make_user)
    grant(user, "entity", world["C1"].siret)
    assert visible(user) == ids(world, "P1", "P5", "P6")  # P4 is abandoned


def test_laboratory_director_by_role_or_by_grant(world, make_user):
    director = portal_user(make_user, world["E"])
    assert visible(director) == ids(world, "P1")
    deputy = portal_user(make_user)
    grant(deputy, "lab_director", world["L2"].rnsr)
    assert visible(deputy) == ids(world, "P1", "P5", "P6")


def test_coordinator_and_leads_see_their_projects(world, make_user):
    assert visible(portal_user(make_user, world["A"])) == ids(world, "P1", "P5")
    assert visible(portal_user(make_user, world["B"])) == ids(world, "P1", "P6")
    assert visible(portal_user(make_user, world["D"])) == ids(world, "P1")


def test_profiles_add_up_and_nobody_else_sees_anything(world, make_user):
    user = portal_user(make_user, world["D"])
    grant(user, "entity", world["U2"].siret)
    assert visible(user) == ids(world, "P1", "P2")
    assert visible(portal_user(make_user)) == set()
    assert visible(make_user("agent")) == set()


def test_coordinator_sees_every_partner_others_only_theirs(world, make_user):
    def partners(user):
        return set(db.session.scalars(sa.select(Partner.number).where(
            Partner.project_id == world["P1"].id, partner_scope(load_profiles(user)))).all())

    assert partners(portal_user(make_user, world["A"])) == {1, 2}
    assert partners(portal_user(make_user, world["E"])) == {1}
    assert partners(portal_user(make_user, world["D"])) == {2}


def _references(html: str) -> set[str]:
    return set(re.findall(r'/portail/projets/(ANR-[^"]+)"', html))


def test_pages_follow_the_scope_and_answer_404_outside(world, make_user, login, client):
    user = login(portal_user(make_user, world["E"]))
    assert user
    listing = client.get("/portail/").get_data(as_text=True)
    assert _references(listing) == {world["P1"].reference}
    assert client.get(f"/portail/projets/{world['P1'].reference}").status_code == 200
    for name in ("P2", "P3", "P4", "P5", "P6"):
        assert client.get(f"/portail/projets/{world[name].reference}").status_code == 404
        assert client.get(f"/portail/projets/{world[name].reference}/signaler").status_code in (404, 405)
        assert client.get(f"/api/v1/portal/projects/{world[name].reference}").status_code == 401


def amounts_shown(page: str) -> list[dict[str, Decimal]]:
    """The amounts of each level of the sheet (whole project, then the user's partners), as numbers."""
    levels = re.findall(r'<dl data-amounts="[^"]+">(.*?)</dl>', page, re.S)
    return [{key: Decimal(re.sub(r"[^\d,]", "", value).replace(",", "."))
             for key, value in re.findall(r'<dd data-amount="(\w+)">([^<]*)</dd>', level)} for level in levels]


def test_project_sheet_hides_other_partners_payments(world, make_user, login, client):
    partners = world["P1"].partners
    partners[0].aid_granted, partners[1].aid_granted = Decimal("180.00"), Decimal("120.00")
    world["P1"].aid_granted = Decimal("300.00")
    db.session.flush()
    login(portal_user(make_user, world["E"]))
    page = client.get(f"/portail/projets/{world['P1'].reference}").get_data(as_text=True)
    assert "Composante 1" in page and "Délégation" in page  # the consortium is listed
    assert "hors périmètre" in page
    assert "Ensemble du projet" in page and "Partenaires de votre périmètre" in page
    whole, own = amounts_shown(page)
    assert whole == {"granted": Decimal("300"), "paid": Decimal("90"), "remaining": Decimal("210")}
    assert own == {"granted": Decimal("180"), "paid": Decimal("40"), "remaining": Decimal("140")}  # its partner only
    for level in (whole, own):
        assert level["paid"] + level["remaining"] == level["granted"]
    listing = client.get("/portail/").get_data(as_text=True)
    assert "Reste à verser à vos partenaires" in listing and "140,00" in listing  # the sheet's figure
    reporting = client.get("/portail/bilan").get_data(as_text=True)
    assert "Ensemble des projets" in reporting
    assert amounts_shown(reporting) == [whole, own]  # the director's scope is this one project


def test_a_team_member_sees_the_projects_of_their_team_until_their_end_date(world, make_user, client, login):
    from datetime import date

    from factories_crm import make_team_member

    member = make_person()
    make_team_member(world["P2"], member, role="Doctorante")  # no dates
    make_team_member(world["P5"], member, start=date(2025, 1, 1), end=date(2999, 12, 31))
    make_team_member(world["P6"], member, start=date(2020, 1, 1), end=date(2021, 6, 30))  # participation ended
    make_team_member(world["P3"], member)  # closed project: never shown
    user = portal_user(make_user, member)
    assert visible(user) == ids(world, "P2", "P5")
    on_last_day = set(db.session.scalars(sa.select(Project.id).where(
        project_scope(load_profiles(user), today=date(2021, 6, 30)))).all())
    assert on_last_day == ids(world, "P2", "P5", "P6")
    # a team member sees the project sheet and its team, but no partner's payment schedule
    assert not db.session.scalars(sa.select(Partner.id).where(partner_scope(load_profiles(user)))).all()
    login(user)
    sheet = client.get(f"/portail/projets/{world['P2'].reference}")
    assert sheet.status_code == 200 and "Doctorante" in sheet.get_data(as_text=True)
    assert client.get(f"/portail/projets/{world['P6'].reference}").status_code == 404
    headers = {"Authorization": f"Bearer {services.create_api_token(user, 'test')[1]}"}
    detail = client.get(f"/api/v1/portal/projects/{world['P2'].reference}", headers=headers).get_json()
    assert detail["team"] == [{"name": member.full_name, "role": "Doctorante", "start_date": None,
                               "end_date": None}]
    assert client.get(f"/api/v1/portal/projects/{world['P6'].reference}", headers=headers).status_code == 404
