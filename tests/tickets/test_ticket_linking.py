"""Every ticket linked, on every channel: person, project, establishment and laboratory (tickets.linking)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from crm.core import services as accounts
from crm.core.extensions import db
from crm.organisations.models import Organisation, OrgKind, laboratory_supervisors
from notifications.mail_in import process_mail
from tests.factories_crm import demo, demo_dir, make_org, make_partner, make_person, make_project, portal_user  # noqa: F401
from tickets import services
from tickets.linking import references_in
from tickets.models import Channel, Ticket, TicketEvent

REFERENCE = "ANR-24-CE01-0001"
PREMIUM_REASON = f"Établissement premium : Université X, partenaire du projet {REFERENCE}"


@pytest.fixture
def crm(reference_data):
    """A premium university partner of ANR-24-CE01-0001 (led by a known person), and a two-partner project."""

    class Crm:
        university = make_org(OrgKind.HEADQUARTERS, name="Université X", service_tier="premium")
        other = make_org(OrgKind.HEADQUARTERS, name="Institut Y", service_tier="prioritaire")
        lab = make_org(OrgKind.LABORATORY, name="Laboratoire Z")
        lead = make_person(email="claire.lead@univ-x.example", last_name="Lead", organisation_id=lab.id)
        project = make_project(reference=REFERENCE, acronym="PREMIUM")
        shared = make_project(reference="ANR-25-CE02-0002", acronym="DUO")

    make_partner(Crm.project, Crm.university, laboratory=Crm.lab, scientific_lead=Crm.lead)
    make_partner(Crm.shared, Crm.university)
    make_partner(Crm.shared, Crm.other)
    return Crm


def test_references_are_found_in_any_case_once_each():
    assert references_in("Projet anr-24-ce01-0001.", "Voir ANR-24-CE01-0001 et ANR-25-CE02-0002") == [
        "ANR-24-CE01-0001", "ANR-25-CE02-0002"]
    assert references_in("DEM-2026-000123 n'est pas un projet", None) == []


def test_a_project_named_in_the_text_links_its_only_partner_and_its_tier(crm, make_ticket):
    ticket = make_ticket(body=f"Bonjour, une question sur le projet {REFERENCE} : le versement est-il prévu ?",
                         requester_email="inconnu@ailleurs.example")
    assert (ticket.project, ticket.organisation, ticket.laboratory, ticket.person) == (
        crm.project, crm.university, crm.lab, None)
    assert ticket.service_tier == "premium" and ticket.sla_policy.name == "Établissement premium"
    assert ticket.sla_reason.startswith(PREMIUM_REASON + ". Politique « Établissement premium »")
    assert ticket.link_candidates is None


def test_a_known_address_in_any_case_links_the_person_and_their_only_active_project(crm, make_ticket):
    ticket = make_ticket(requester_email="Claire.LEAD@Univ-X.example", body="Où en est mon dossier ?")
    assert ticket.person == crm.lead
    assert (ticket.project, ticket.organisation, ticket.laboratory) == (crm.project, crm.university, crm.lab)
    assert ticket.sla_reason.startswith(PREMIUM_REASON)


def test_a_person_with_two_active_projects_gets_the_choice_and_keeps_their_laboratory(crm, make_ticket):
    second = make_project(reference="ANR-23-CE03-0003", acronym="BIS")
    make_partner(second, crm.other, administrative_lead=crm.lead)
    ticket = make_ticket(requester_email=crm.lead.email)
    assert ticket.project is None and ticket.person == crm.lead
    assert sorted(ticket.link_candidates["projects"]) == sorted([crm.project.id, second.id])
    assert ticket.laboratory == crm.lab and ticket.organisation == crm.lab  # a laboratory without supervisors
    # a closed project is not a candidate
    second.state = "closed"
    db.session.flush()
    assert make_ticket(requester_email=crm.lead.email).project == crm.project


def test_a_project_with_two_establishments_links_the_project_and_leaves_the_choice(crm, make_ticket):
    ticket = make_ticket(subject="Question sur ANR-25-CE02-0002", requester_email="x@y.example")
    assert ticket.project == crm.shared and ticket.organisation is None
    assert sorted(ticket.link_candidates["organisations"]) == sorted([crm.university.id, crm.other.id])
    assert ticket.sla_policy.name == "Standard"
    assert ticket.sla_reason.startswith("Niveau de service standard : établissement à confirmer parmi 2 candidats")


def test_a_laboratory_with_two_supervisors_is_certain_its_establishment_is_not(crm, make_ticket):
    db.session.execute(laboratory_supervisors.insert(), [
        {"laboratory_id": crm.lab.id, "organisation_id": crm.university.id},
        {"laboratory_id": crm.lab.id, "organisation_id": crm.other.id}])
    researcher = make_person(email="r@lab-z.example", organisation_id=crm.lab.id)
    ticket = make_ticket(requester_email=researcher.email)
    assert ticket.person == researcher and ticket.project is None
    assert ticket.laboratory == crm.lab and ticket.organisation is None
    assert sorted(ticket.link_candidates["organisations"]) == sorted([crm.university.id, crm.other.id])


def test_the_project_field_wins_over_references_in_the_text(crm, make_ticket):
    ticket = make_ticket(project_reference=" anr-24-ce01-0001 ", body="Comme pour ANR-25-CE02-0002, …")
    assert ticket.project == crm.project and ticket.link_candidates is None


def test_an_entity_inherits_its_headquarters_tier_and_the_reason_says_so(reference_data, make_ticket):
    hq = make_org(OrgKind.HEADQUARTERS, name="Centre national", service_tier="premium")
    delegation = make_org(OrgKind.ENTITY, name="Délégation Rhône", parent=hq)
    project = make_project(reference="ANR-24-CE09-0009")
    make_partner(project, delegation)
    ticket = make_ticket(project_reference=project.reference)
    assert ticket.organisation == delegation and ticket.service_tier == "premium"
    assert ticket.sla_reason.startswith("Établissement premium : Délégation Rhône, partenaire du projet "
                                        "ANR-24-CE09-0009 (niveau de service de Centre national)")


def test_an_unknown_address_naming_nothing_links_nothing(reference_data, make_ticket):
    ticket = make_ticket()
    assert (ticket.person, ticket.project, ticket.organisation, ticket.link_candidates) == (None, None, None, None)
    assert ticket.sla_reason.startswith("Niveau de service standard : aucun établissement rattaché")


def test_agent_correction_rechooses_the_policy_and_writes_the_history(crm, make_ticket, make_user):
    agent = make_user("agent", name="Agnès Agent")
    ticket = make_ticket(subject="Question sur ANR-25-CE02-0002")
    assert services.relink_ticket(ticket, project=crm.shared, organisation=crm.university, by=agent)
    assert ticket.organisation == crm.university and ticket.link_candidates is None
    assert ticket.sla_policy.name == "Établissement premium"
    assert ticket.sla_reason.startswith("Établissement premium : Université X, partenaire du projet "
                                        "ANR-25-CE02-0002, rattachement choisi par Agnès Agent")
    events = {e.kind: e for e in db.session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))}
    assert events["links"].actor == agent
    assert (events["links"].data["before"], events["links"].data["after"]) == (
        "ANR-25-CE02-0002", "ANR-25-CE02-0002 — Université X")
    assert [e.data["after"] for e in ticket.events if e.kind == "sla_policy"] == ["Standard", "Établissement premium"]
    # the same links again: nothing recorded
    assert not services.relink_ticket(ticket, project=crm.shared, organisation=crm.university, by=agent)


def test_email_in_links_by_sender_and_subject(crm):
    message = EmailMessage()
    message["From"] = "Claire Lead <CLAIRE.LEAD@univ-x.example>"
    message["To"] = "guichet@agence.example"
    message["Subject"] = f"Rapport intermédiaire {REFERENCE}"
    message["Message-ID"] = "<lien@client.example>"
    message.set_content("Bonjour, où déposer le rapport ?")
    ticket = db.session.get(Ticket, process_mail(message.as_bytes()).ticket_id)
    assert ticket.channel == Channel.EMAIL and ticket.person == crm.lead
    assert (ticket.project, ticket.organisation) == (crm.project, crm.university)
    assert ticket.sla_reason.startswith(PREMIUM_REASON)


def test_demo_tickets_are_linked_through_the_real_path(demo, reference_data):  # noqa: F811
    from crm.projects.models import Project
    from tickets.demo import seed_demo_tickets

    seed_demo_tickets({"projects": db.session.scalars(sa.select(Project).order_by(Project.id)).all(),
                       "n_tickets": 80})
    tickets = db.session.scalars(sa.select(Ticket)).all()
    assert len(tickets) == 80
    assert sum(t.project_id is not None for t in tickets) >= 20
    assert sum(t.person_id is not None and t.organisation_id is not None for t in tickets) >= 10
    assert any(t.sla_reason.startswith("Établissement premium : ") and ", partenaire du projet ANR-" in t.sla_reason
               for t in tickets)
    assert any(t.link_candidates for t in tickets)  # a few left for the agents to choose


# -- over HTTP ----------------------------------------------------------------------------------------


def _form(**overrides):
    data = {"name": "Jeanne Martin", "email": "jeanne.martin@labo.example", "topic": "depot",
            "subject": "Versement de l'aide", "message": "Bonjour, quand le versement est-il prévu ?",
            "project_reference": "", "website": ""}
    data.update(overrides)
    return data


def test_public_form_naming_a_premium_partners_project_gets_project_organisation_and_premium(crm, client):
    response = client.post("/demande", data=_form(project_reference=REFERENCE, email=crm.lead.email.upper()))
    assert response.status_code == 302
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.subject == "Versement de l'aide"))
    assert (ticket.person, ticket.project, ticket.organisation) == (crm.lead, crm.project, crm.university)
    assert ticket.sla_policy.name == "Établissement premium" and ticket.sla_reason.startswith(PREMIUM_REASON)


def test_a_signed_in_known_person_picks_their_project_from_a_list(crm, client, login, make_user):
    second = make_project(reference="ANR-23-CE03-0003", acronym="BIS")
    make_partner(second, crm.other, administrative_lead=crm.lead)
    login(portal_user(make_user, crm.lead))
    html = client.get("/demande").get_data(as_text=True)
    assert f'<option value="{REFERENCE}">PREMIUM — {REFERENCE}</option>' in html
    assert 'value="ANR-23-CE03-0003"' in html and 'name="project_reference"' not in html
    db.session.commit()
    refused = client.post("/demande", data=_form(email=crm.lead.email, project="ANR-25-CE02-0002"))
    assert refused.status_code == 422 and "Choisissez un de vos projets" in refused.get_data(as_text=True)
    assert client.post("/demande", data=_form(email=crm.lead.email, project="ANR-23-CE03-0003")).status_code == 302
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.subject == "Versement de l'aide"))
    assert (ticket.project, ticket.organisation) == (second, crm.other)
    assert ticket.sla_policy.name == "Établissement prioritaire"


def test_api_submission_is_linked_and_shows_its_links(crm, client, make_user):
    agent = make_user("agent")
    _token, clear = accounts.create_api_token(agent, "tests")
    response = client.post("/api/v1/tickets", headers={"Authorization": f"Bearer {clear}"}, json={
        "subject": "Budget", "body": "Quelles dépenses sont éligibles ?", "requester_email": "x@y.example",
        "requester_name": "X", "project_reference": "ANR-25-CE02-0002"})
    assert response.status_code == 201, response.get_json()
    links = response.get_json()["links"]
    assert links["project"] == "ANR-25-CE02-0002" and links["organisation"] is None
    assert sorted(links["candidates"]["organisations"]) == sorted([crm.university.id, crm.other.id])
    assert response.get_json()["sla_reason"].startswith("Niveau de service standard")


def test_ambiguous_ticket_shows_a_one_click_choice_that_relinks(crm, client, login, make_user, make_ticket):
    ticket = make_ticket(subject="Question sur ANR-25-CE02-0002")
    login(make_user("agent", name="Agnès Agent"))
    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Rattachement à confirmer" in html and "Université X" in html and "Institut Y" in html
    assert f'name="organisation" value="{crm.other.id}"' in html
    # a value that is not among the candidates is refused, nothing changes
    refused = client.post(f"/agent/demandes/{ticket.reference}/rattachement/choix",
                          data={"organisation": str(crm.lab.id)})
    assert refused.status_code == 422 and db.session.get(Ticket, ticket.id).organisation_id is None
    response = client.post(f"/agent/demandes/{ticket.reference}/rattachement/choix",
                           data={"organisation": str(crm.other.id)})
    assert response.status_code == 302
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.organisation == crm.other and ticket.link_candidates is None
    assert ticket.sla_policy.name == "Établissement prioritaire"
    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Rattachement à confirmer" not in html and "Rattachement modifié" in html
    assert "Établissement prioritaire : Institut Y, partenaire du projet ANR-25-CE02-0002" in html


def test_agent_corrects_links_with_the_form(crm, client, login, make_user, make_ticket):
    ticket = make_ticket()
    login(make_user("agent"))
    db.session.commit()
    unknown = client.post(f"/agent/demandes/{ticket.reference}/rattachement",
                          data={"project_reference": "ANR-99-XX99-9999", "organisation": ""})
    assert unknown.status_code == 422 and "Aucun projet ne porte la référence" in unknown.get_data(as_text=True)
    response = client.post(f"/agent/demandes/{ticket.reference}/rattachement",
                           data={"project_reference": REFERENCE.lower(), "organisation": ""})
    assert response.status_code == 302
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.project, ticket.organisation) == (crm.project, crm.university)
    assert ticket.sla_policy.name == "Établissement premium"
    kinds = [e.kind for e in ticket.events]
    assert kinds.count("links") == 1 and kinds[-1] == "sla_policy"
    # an establishment by its identifier, no project
    client.post(f"/agent/demandes/{ticket.reference}/rattachement",
                data={"project_reference": "", "organisation": crm.other.siren})
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.project, ticket.organisation) == (None, crm.other)
    assert ticket.sla_policy.name == "Établissement prioritaire"
    assert db.session.scalar(sa.select(Organisation).where(Organisation.id == crm.other.id)).siren


def test_requesters_cannot_relink(crm, client, login, make_user, make_ticket):
    ticket = make_ticket()
    login(make_user("requester"))
    assert client.post(f"/agent/demandes/{ticket.reference}/rattachement",
                       data={"project_reference": REFERENCE}).status_code == 403


def test_the_candidate_establishments_show_their_tier_by_name(crm, make_ticket, make_user, client, login):
    db.session.execute(laboratory_supervisors.insert(), [
        {"laboratory_id": crm.lab.id, "organisation_id": crm.university.id},
        {"laboratory_id": crm.lab.id, "organisation_id": crm.other.id}])
    researcher = make_person(email="r@lab-z.example", organisation_id=crm.lab.id)
    ticket = make_ticket(requester_email=researcher.email)
    login(make_user("agent"))
    page = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Université X (Premium)" in page and "Institut Y (Prioritaire)" in page
    assert "(premium)" not in page and "(prioritaire)" not in page
