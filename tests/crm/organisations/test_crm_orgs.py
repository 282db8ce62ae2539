"""The 360° view of an organisation, agents' notes, the staff project sheet, the portal contact form."""

from __future__ import annotations

import factories_crm
import pytest
import sqlalchemy as sa
from factories_crm import portal_user

from crm.core.extensions import db
from crm.demo.projects import DIRECTOR_EMAIL, DIRECTOR_LAB_CODE
from crm.organisations.identifiers import (
    IdentifierError,
    luhn_complete,
    luhn_valid,
    validate_rnsr,
    validate_siren,
    validate_siret,
)
from crm.organisations.models import Interaction, Organisation, Person
from crm.projects.models import Partner, Project
from tickets.models import SlaState, Ticket

demo, demo_dir, tickets_wired = factories_crm.demo, factories_crm.demo_dir, factories_crm.tickets_wired


def test_identifiers_are_checked_with_clear_messages():
    assert validate_siren("732 829 320") == "732829320"
    assert validate_siret("732 829 320 00074") == "73282932000074"
    assert validate_siret("35600000000048") == "35600000000048"  # La Poste's own rule
    assert validate_siret("35600000049837") == "35600000049837"
    assert validate_rnsr("200012345a") == "200012345A"
    assert luhn_valid(luhn_complete("12345678"))
    with pytest.raises(IdentifierError, match="9 chiffres"):
        validate_siren("12345")
    with pytest.raises(IdentifierError, match="clé de contrôle"):
        validate_siren("732829321")
    with pytest.raises(IdentifierError, match="14 chiffres"):
        validate_siret("7328293200007")
    with pytest.raises(IdentifierError, match="clé de contrôle"):
        validate_siret("73282932000075")
    with pytest.raises(IdentifierError, match="200012345A"):
        validate_rnsr("20001234A")
    with pytest.raises(IdentifierError, match="RNSR"):
        validate_rnsr("300012345A")


def org(code: str) -> Organisation:
    return db.session.scalar(sa.select(Organisation).where(Organisation.code == code))


def test_360_view_shows_family_contacts_projects_requests(demo, tickets_wired, make_ticket, client, make_user,
                                                         login):
    university, component = org("UNIV-EX"), org("UNIV-EX-SCIENCES")
    met = make_ticket(organisation_id=component.id, subject="Question sur un versement")
    met.first_response_state = SlaState.MET
    missed = make_ticket(organisation_id=university.id)
    missed.first_response_state, missed.resolution_state = SlaState.MISSED, SlaState.MISSED
    make_ticket(organisation_id=org("CNRS-EX").id, subject="Autre établissement")
    db.session.flush()
    login(make_user("agent"))
    html = client.get(f"/crm/organisations/{university.id}").get_data(as_text=True)
    assert "Faculté des sciences" in html and "Laboratoire de matériaux et catalyse" in html  # entity, lab
    assert "Service" in html and "Représentant légal" in html  # contacts and roles
    assert "Niveau de service" in html and "Prioritaire" in html
    assert met.reference in html and missed.reference in html
    assert "Autre établissement" not in html
    assert 'data-sla="first_response-met">1<' in html and 'data-sla="first_response-missed">1<' in html
    assert "50\xa0%" in html
    lab_project = db.session.scalar(sa.select(Project).join(Partner).where(
        Partner.laboratory_id == org(DIRECTOR_LAB_CODE).id).limit(1))
    assert f"/crm/projets/{lab_project.id}" in html


def test_agents_record_notes(demo, client, make_user, login, count_rows):
    university = org("UNIV-EX")
    login(make_user("agent"))
    response = client.post(f"/crm/organisations/{university.id}/notes",
                           data={"kind": "call", "subject": "Appel de la directrice", "body": "RIB à jour",
                                 "occurred_at": "2026-11-20T10:30"})
    assert response.status_code == 302
    note = db.session.scalar(sa.select(Interaction).where(Interaction.organisation_id == university.id))
    assert note.occurred_at.hour == 9  # 10:30 in Paris is 09:30 UTC in November
    html = client.get(f"/crm/organisations/{university.id}").get_data(as_text=True)
    assert "Appel de la directrice" in html and "RIB à jour" in html
    client.post(f"/crm/organisations/{university.id}/notes", data={"kind": "call", "subject": ""})
    assert count_rows(Interaction, Interaction.organisation_id == university.id) == 1


def test_staff_pages_are_for_staff(demo, client, make_user, login):
    project = db.session.scalar(sa.select(Project).where(Project.state == "closed").limit(1))
    login(make_user("requester"))
    assert client.get("/crm/organisations").status_code == 403
    assert client.get(f"/crm/projets/{project.id}").status_code == 403
    client.post("/deconnexion")
    login(make_user("agent"))
    html = client.get(f"/crm/projets/{project.id}").get_data(as_text=True)  # agents see closed projects too
    assert project.reference in html and "/crm/organisations/" in html
    assert client.get(f"/crm/projets/reference/{project.reference}").headers["Location"].endswith(
        f"/crm/projets/{project.id}")
    assert "Lumière-Exemple" in client.get("/crm/organisations?q=Lumière").get_data(as_text=True)
    assert "Lumière-Exemple" in client.get(f"/crm/organisations?q={org('UNIV-EX').siren}").get_data(as_text=True)


def test_director_reports_an_error_and_the_agent_sees_project_and_establishment(
        demo, tickets_wired, reference_data, client, make_user, login):
    person = db.session.scalar(sa.select(Person).where(Person.email == DIRECTOR_EMAIL))
    director = login(portal_user(make_user, person))
    lab = org(DIRECTOR_LAB_CODE)
    project = db.session.scalar(sa.select(Project).join(Partner).where(
        Partner.laboratory_id == lab.id, Project.state == "follow_up").order_by(Project.reference).limit(1))
    sheet = client.get(f"/portail/projets/{project.reference}").get_data(as_text=True)
    assert f"/portail/projets/{project.reference}/signaler" in sheet
    response = client.post(f"/portail/projets/{project.reference}/signaler",
                           data={"reason": "donnees", "body": "Le montant versé en 2025 est erroné."})
    assert response.status_code == 302
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.project_id == project.id))
    assert response.headers["Location"].endswith(f"/demandes/{ticket.reference}")
    partner = db.session.scalar(sa.select(Partner).where(Partner.project_id == project.id,
                                                         Partner.laboratory_id == lab.id))
    assert ticket.organisation_id == partner.organisation_id
    assert ticket.channel == "portal" and ticket.requester_id == director.id
    assert ticket.project_reference == project.reference and ticket.topic.slug == "portail"
    assert ticket.service_tier == partner.organisation.effective_service_tier
    assert "erronées" in ticket.subject and project.acronym in ticket.subject
    client.post("/deconnexion")
    login(make_user("agent"))
    html = client.get(f"/crm/organisations/{partner.organisation_id}").get_data(as_text=True)
    assert ticket.reference in html


def test_contact_form_is_404_outside_scope(demo, tickets_wired, client, make_user, login):
    login(portal_user(make_user))
    project = db.session.scalar(sa.select(Project).where(Project.state == "follow_up").limit(1))
    assert client.get(f"/portail/projets/{project.reference}/signaler").status_code == 404
    assert client.post(f"/portail/projets/{project.reference}/signaler",
                       data={"reason": "autre", "body": "x"}).status_code == 404
