"""The establishment's requests in the portal: scope, what is shown (never the messages), live SLA states,
met rates and satisfaction over a period, the Excel and CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import factories_crm
import pytest
import sqlalchemy as sa
from factories_crm import (
    make_org,
    make_partner,
    make_person,
    make_project,
    make_team_member,
    make_ticket_row,
    portal_user,
)
from openpyxl import load_workbook

from crm.core.extensions import db, utcnow
from crm.core.i18n import paris_today
from crm.organisations.models import OrgKind
from crm.portal.models import PortalGrant
from crm.portal.requests import request_scope
from crm.portal.scope import load_profiles
from tickets.forms import CONTACT_REASONS
from tickets.models import AuthorKind, Message, SlaState, Status, Survey, Ticket
from tickets.portal_requests import PROVIDER

tickets_wired = factories_crm.tickets_wired  # fixture
SECRET = "Contenu confidentiel du message"


def make_request(*, organisation=None, laboratory=None, project=None, created_at=None, **fields) -> Ticket:
    """A ticket row with its links (no message: the portal never reads them)."""
    if created_at is not None:
        fields["created_at"] = created_at
    return make_ticket_row(organisation=organisation, laboratory=laboratory, project=project, **fields)


@pytest.fixture
def world(make_user):
    w = {"U": make_org(OrgKind.HEADQUARTERS, name="Université")}
    w["U1"] = make_org(OrgKind.ENTITY, parent=w["U"], name="Composante")
    w["C"] = make_org(OrgKind.HEADQUARTERS, name="Autre organisme")
    w["L"] = make_org(OrgKind.LABORATORY, name="Labo")
    w["P"] = make_project()  # partner U1 with the laboratory: in the university's scope
    make_partner(w["P"], w["U1"], laboratory=w["L"])
    w["Q"] = make_project()  # another establishment's project
    make_partner(w["Q"], w["C"])
    w["X"] = make_project(state="closed")  # the university's, but closed
    make_partner(w["X"], w["U1"])
    w["hq"] = portal_user(make_user)
    db.session.add(PortalGrant(user_id=w["hq"].id, kind="headquarters", identifier=w["U"].siren))
    db.session.flush()
    return w


def visible(user, start=None, end=None) -> list[str]:
    scope = request_scope(load_profiles(user))
    if scope is None:
        return []
    start, end = start or datetime(2000, 1, 1, tzinfo=UTC), end or utcnow() + timedelta(days=1)
    return [r.reference for r in PROVIDER.rows(scope, start, end, utcnow())]


def test_headquarters_sees_the_requests_of_its_establishments_and_projects_only(world, make_user):
    entity = make_request(organisation=world["U1"])
    by_project = make_request(project=world["P"], organisation=world["C"])  # the project is in scope
    by_lab = make_request(laboratory=world["L"])
    other = make_request(organisation=world["C"], project=world["Q"])
    closed = make_request(project=world["X"])  # reached only through a closed project
    merged = make_request(organisation=world["U1"], merged_into_id=entity.id)
    # a laboratory has no SIREN; another's, a closed project's and a merged request are not shown
    assert set(visible(world["hq"])) == {entity.reference, by_project.reference}
    assert not {other.reference, closed.reference, merged.reference} & set(visible(world["hq"]))

    lab_user = portal_user(make_user)
    db.session.add(PortalGrant(user_id=lab_user.id, kind="lab_director", identifier=world["L"].rnsr))
    director = make_person(director_of=world["L"])  # a director from the business data, no grant
    director_user = portal_user(make_user, director)
    db.session.flush()
    for user in (lab_user, director_user):
        assert set(visible(user)) == {by_lab.reference, by_project.reference}  # the laboratory's, its project's


def test_personal_profiles_do_not_open_other_peoples_requests(world, make_user, client, login):
    coordinator = make_person()
    world["P"].coordinator_id = coordinator.id
    member = make_person()
    make_team_member(world["P"], member)
    make_request(project=world["P"])
    for person in (coordinator, member):
        user = portal_user(make_user, person)
        assert request_scope(load_profiles(user)) is None
    login(user)
    assert client.get("/portail/demandes").status_code == 404
    assert client.get("/portail/bilan/demandes.csv").status_code == 404
    assert 'href="/portail/demandes"' not in client.get("/portail/").get_data(as_text=True)  # no tab


def test_the_page_shows_states_and_live_sla_but_never_the_messages(world, client, login):
    now = utcnow()
    late = make_request(organisation=world["U1"], subject="Versement <b>retardé</b>",
                        first_response_due_at=now - timedelta(hours=2), next_due_at=now - timedelta(hours=2))
    answered = make_request(project=world["P"], status=Status.RESOLVED, first_responded_at=now - timedelta(days=1),
                            resolved_at=now - timedelta(hours=5), first_response_state=SlaState.MET,
                            resolution_state=SlaState.MISSED)
    make_request(organisation=world["C"], subject="Hors périmètre")
    db.session.add(Message(ticket_id=late.id, body=SECRET, author_kind=AuthorKind.REQUESTER))
    db.session.flush()
    login(world["hq"])
    response = client.get("/portail/demandes")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert late.reference in html and answered.reference in html and "Hors périmètre" not in html
    assert "Versement &lt;b&gt;retardé&lt;/b&gt;" in html  # escaped
    assert SECRET not in html and late.requester_email not in html
    row = html.split(f'data-request="{late.reference}"')[1].split("</tr>")[0]
    assert "Dépassé" in row  # computed now from the stored instants, before any sweep
    row = html.split(f'data-request="{answered.reference}"')[1].split("</tr>")[0]
    assert "Respecté" in row and "Non respecté" in row and f"/portail/projets/{world['P'].reference}" in row
    assert 'href="/portail/demandes"' in client.get("/portail/").get_data(as_text=True)  # the navigation tab


def test_met_rates_and_satisfaction_over_the_period(world, client, login):
    inside, before = datetime(2026, 3, 10, 10, tzinfo=UTC), datetime(2025, 12, 10, 10, tzinfo=UTC)
    for state, when in ((SlaState.MET, inside), (SlaState.MET, inside), (SlaState.MISSED, inside),
                        (SlaState.MISSED, before)):
        ticket = make_request(organisation=world["U1"], status=Status.RESOLVED, created_at=when - timedelta(days=1),
                              first_responded_at=when, resolved_at=when, first_response_state=state,
                              resolution_state=SlaState.MET)
        db.session.add(Survey(ticket_id=ticket.id, token_hash=f"{ticket.id:064d}", created_at=when,
                              expires_at=when + timedelta(days=30), answered_at=when + timedelta(hours=1),
                              score=5 if state == SlaState.MET else 2))
    make_request(organisation=world["C"], status=Status.RESOLVED, first_responded_at=inside, resolved_at=inside,
                 first_response_state=SlaState.MISSED, resolution_state=SlaState.MISSED)  # another's
    db.session.flush()
    scope = request_scope(load_profiles(world["hq"]))
    figures = PROVIDER.figures(scope, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert (figures.filed, figures.first_response.met, figures.first_response.missed) == (3, 2, 1)
    assert (figures.resolution.met, figures.resolution.missed) == (3, 0)
    assert (figures.answers, figures.satisfied, figures.average_score) == (3, 2, 4.0)

    login(world["hq"])
    html = client.get("/portail/demandes?du=2026-01-01&au=2026-12-31").get_data(as_text=True)
    assert 'data-indicator="first_response">66' in html and 'data-indicator="resolution">100' in html
    assert 'data-indicator="satisfaction">66' in html and 'data-indicator="filed">3<' in html


def test_exports_hold_the_same_requests_typed(world, client, login):
    created = datetime(2026, 5, 4, 21, 30, tzinfo=UTC)  # 4 May 23:30 in Paris
    ticket = make_request(organisation=world["U1"], project=world["Q"], subject="=HYPERLINK(1)",
                          created_at=created)
    make_request(organisation=world["C"], created_at=created)
    login(world["hq"])
    text = client.get("/portail/bilan/demandes.csv?du=2026-05-01&au=2026-05-31").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Référence", "Objet", "État"]
    assert [r[0] for r in rows[1:]] == [ticket.reference]
    assert rows[1][1] == "'=HYPERLINK(1)" and rows[1][3] == ""  # project Q is not in the scope: not named
    assert rows[1][4] == "04/05/2026"
    response = client.get("/portail/bilan/demandes.xlsx?du=2026-05-01&au=2026-05-31")
    assert response.headers["Content-Disposition"].endswith('guichet-demandes-2026-05-01-2026-05-31.xlsx"')
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [v[0] for v in values] == [ticket.reference] and values[0][4].date() == date(2026, 5, 4)


def test_a_bad_period_is_refused_with_its_reason(world, client, login):
    login(world["hq"])
    response = client.get("/portail/demandes?du=2026-05-01&au=2026-04-01")
    assert response.status_code == 422
    assert "La date de fin doit être postérieure" in response.get_data(as_text=True)
    assert client.get("/portail/demandes?du=2024-01-01&au=2026-04-01").status_code == 422
    assert client.get("/portail/bilan/demandes.csv?du=pas-une-date&au=2026-04-01").status_code == 400


def test_paging_goes_through_every_request(world, client, login):
    made = {make_request(organisation=world["U1"], created_at=utcnow() - timedelta(hours=i)).reference
            for i in range(55)}
    login(world["hq"])
    first = client.get("/portail/demandes").get_data(as_text=True)
    today = paris_today()
    second = client.get(f"/portail/demandes?du={today - timedelta(days=30)}&au={today}&page=2")
    seen = {r for r in made if f'data-request="{r}"' in first}
    assert len(seen) == 50 and "Page suivante" in first
    seen |= {r for r in made if f'data-request="{r}"' in second.get_data(as_text=True)}
    assert seen == made
    for hostile in ("-3", "0", "100000"):  # brought back to the first or the last page
        assert client.get(f"/portail/demandes?page={hostile}").status_code == 200


def test_a_request_filed_from_the_portal_reaches_the_establishment(world, make_user, tickets_wired, reference_data,
                                                                    client, login):
    lead = make_person()
    world["P"].partners[0].scientific_lead_id = lead.id
    db.session.flush()
    login(portal_user(make_user, lead))
    page = client.get(f"/portail/projets/{world['P'].reference}/signaler")
    assert page.status_code == 200
    response = client.post(f"/portail/projets/{world['P'].reference}/signaler",
                           data={"reason": next(iter(CONTACT_REASONS)),
                                 "body": SECRET})
    assert response.status_code == 302
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.project_id == world["P"].id))
    assert ticket.reference in visible(world["hq"])
