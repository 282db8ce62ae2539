"""The portal's and the agency's pages: filing from the project sheet, drafts, scope, co-validation, the queue,
decisions, figures and exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from tests.tickets.modifications.conftest import PDF, pdf
from tickets.models import Ticket
from tickets.modifications import services
from tickets.modifications.models import ChangeRequest
from tickets.modifications.states import State

EXTENSION = {"new_end_date": "2028-06-30", "reason": "Retard de recrutement"}


def _file(client, w, data=None, files=True, kind="extension"):
    form = dict(data or EXTENSION, submit="1")
    if files:
        form["document_letter"] = (io.BytesIO(PDF), "lettre.pdf")
    return client.post(f"/portail/projets/{w.project.reference}/modifications/{kind}", data=form,
                       content_type="multipart/form-data")


def test_the_project_sheet_offers_the_seven_forms_to_filers_only(client, login, modif):
    login(modif.lead2)
    page = client.get(f"/portail/projets/{modif.project.reference}").get_data(as_text=True)
    assert "Demandes de modification en ligne" in page
    assert page.count("/modifications/") >= 7 and "modifications/beneficiary_entry" in page
    client.post("/deconnexion")


def test_outsiders_get_404_and_people_in_scope_without_a_role_403(client, login, modif, make_user):
    login(modif.outsider)
    assert client.get(f"/portail/projets/{modif.project.reference}/modifications/extension").status_code == 404
    assert _file(client, modif).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChangeRequest)) == 0


def test_the_form_is_prefilled_and_files_a_request(client, login, modif):
    login(modif.lead2)
    page = client.get(f"/portail/projets/{modif.project.reference}/modifications/amounts").get_data(as_text=True)
    assert 'value="200000.00"' in page and 'value="100000.00"' in page and "Et ensuite ?" in page
    response = _file(client, modif)
    assert response.status_code == 302
    item = db.session.scalar(sa.select(ChangeRequest))
    assert item.state == State.CO_VALIDATION and item.ticket.reference in client.get(
        response.headers["Location"]).get_data(as_text=True)


def test_bad_input_shows_the_field_errors_and_writes_nothing(client, login, modif, count_rows):
    login(modif.lead2)
    response = _file(client, modif, {"new_end_date": "2027-06-30", "reason": "Retard"}, files=False)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "postérieure à la date de fin actuelle" in page and "Document obligatoire." in page
    assert 'value="2027-06-30"' in page  # the input is kept
    assert count_rows(ChangeRequest) == 0 and count_rows(Ticket) == 0


def test_a_draft_is_saved_and_resumed_then_filed(client, login, modif):
    login(modif.lead2)
    response = client.post(f"/portail/projets/{modif.project.reference}/modifications/extension",
                           data={"reason": "Retard", "new_end_date": "", "save": "1",
                                 "document_letter": (io.BytesIO(PDF), "l.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    item = db.session.scalar(sa.select(ChangeRequest))
    assert item.state == State.DRAFT and item.data == {"reason": "Retard"}
    page = client.get(f"/portail/modifications/{item.id}").get_data(as_text=True)
    assert "Retard" in page and "Déjà joint au brouillon : l.pdf" in page  # resumed with its document
    assert "BROUILLON" in client.get("/portail/modifications").get_data(as_text=True)
    response = client.post(f"/portail/modifications/{item.id}", content_type="multipart/form-data",
                           data={**EXTENSION, "submit": "1"})
    assert response.status_code == 302 and item.state == State.CO_VALIDATION
    assert [d["filename"] for d in item.documents] == ["letter-l.pdf"]
    client.post("/deconnexion")
    login(modif.admin2)  # in scope, but a draft is its filer's alone; a filed request is seen
    assert client.get(f"/portail/modifications/{item.id}").status_code == 200


def test_co_validation_by_the_designated_person_only(client, login, modif):
    item = services.start_draft(modif.project, "extension", filer=modif.lead2, person_id=modif.people.lead2.id)
    services.submit_request(item, EXTENSION, {"letter": pdf()}, by=modif.lead2)
    login(modif.lead)  # the coordinator sees it, but is not the designated party
    assert client.post(f"/portail/modifications/{item.id}/co-validation",
                       data={"decision": "approve"}).status_code == 422
    assert item.state == State.CO_VALIDATION
    client.post("/deconnexion")
    login(modif.admin2)
    assert "Co-valider la demande" in client.get(f"/portail/modifications/{item.id}").get_data(as_text=True)
    assert client.post(f"/portail/modifications/{item.id}/co-validation",
                       data={"decision": "approve"}).status_code == 302
    assert db.session.get(ChangeRequest, item.id).state == State.UNDER_REVIEW


@pytest.fixture
def under_review(modif):
    item = services.start_draft(modif.project, "administrative", filer=modif.admin2, person_id=modif.people.admin2.id)
    services.submit_request(item, {"partner": "2", "address": "1 rue Neuve", "reason": "Déménagement"},
                            {}, by=modif.admin2)
    return item


def test_the_queue_filters_and_the_agent_decides(client, login, modif, under_review):
    login(modif.agent)
    page = client.get("/agent/modifications/").get_data(as_text=True)
    assert under_review.ticket.reference in page
    assert under_review.ticket.reference not in client.get("/agent/modifications/?type=extension").get_data(
        as_text=True)
    assert client.get("/agent/modifications/?type=nope&echeance=hier").status_code == 422
    response = client.post(f"/agent/modifications/{under_review.id}/action", data={"action": "accept", "body": ""})
    assert response.status_code == 422 and under_review.state == State.UNDER_REVIEW
    response = client.post(f"/agent/modifications/{under_review.id}/action",
                           data={"action": "accept", "body": "Adresse mise à jour."})
    assert response.status_code == 302
    assert db.session.get(ChangeRequest, under_review.id).state == State.ACCEPTED
    rows = list(csv.DictReader(io.StringIO(client.get("/agent/modifications/acceptees.csv").get_data(as_text=True))))
    assert [(r["kind"], r["decision"], json.loads(r["data"])["address"]) for r in rows] == [
        ("administrative", "accepted", "1 rue Neuve")]
    document = json.loads(client.get("/agent/modifications/acceptees.json").get_data(as_text=True))
    assert document["format"] == "guichet.modifications.accepted/1" and len(document["items"]) == 1
    assert under_review.ticket.reference in client.get("/agent/modifications/rapprochement").get_data(as_text=True)
    ticket_page = client.get(f"/agent/demandes/{under_review.ticket.reference}").get_data(as_text=True)
    assert f"/agent/modifications/{under_review.id}" in ticket_page and "Demande de modification" in ticket_page


def test_figures_for_managers_with_exports(client, login, modif, under_review):
    services.decide(under_review, "refuse", by=modif.agent, reason="Pièce manquante")
    login(modif.agent)
    assert client.get("/agent/modifications/indicateurs").status_code == 403
    client.post("/deconnexion")
    login(modif.manager)
    page = client.get("/agent/modifications/indicateurs").get_data(as_text=True)
    assert "Modification d&#39;informations administratives" in page or "informations administratives" in page
    assert client.get("/agent/modifications/indicateurs?du=2026-13-01").status_code == 422
    xlsx = client.get("/agent/modifications/indicateurs.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    text = client.get("/agent/modifications/indicateurs.csv").data.decode("utf-8-sig")
    assert "Type de demande;Déposées;Décidées;Acceptées" in text


def test_portal_users_never_reach_the_agent_pages(client, login, modif, under_review):
    login(modif.admin2)
    assert client.get("/agent/modifications/").status_code == 403
    assert client.post(f"/agent/modifications/{under_review.id}/action",
                       data={"action": "accept", "body": "x"}).status_code == 403
    assert under_review.state == State.UNDER_REVIEW


def test_the_filer_writes_about_the_decision_and_the_ticket_reopens(client, login, modif, under_review):
    login(modif.admin2)
    url = f"/portail/modifications/{under_review.id}"
    assert "au sujet de la décision" not in client.get(url).get_data(as_text=True)
    refused = client.post(f"{url}/message", data={"body": "Trop tôt"})
    assert refused.status_code == 422 and "une fois qu&#39;elle aura été rendue" in refused.get_data(as_text=True)
    services.decide(under_review, "refuse", by=modif.agent, reason="Pièce manquante")
    assert under_review.ticket.status == "resolved" and under_review.ticket.next_due_at is None
    assert "au sujet de la décision" in client.get(url).get_data(as_text=True)
    response = client.post(f"{url}/message", content_type="multipart/form-data",
                           data={"body": "Voici la pièce.", "attachments": (io.BytesIO(PDF), "piece.pdf")})
    assert response.status_code == 302
    ticket = under_review.ticket
    assert under_review.state == State.REFUSED and ticket.status == "open" and ticket.next_due_at is not None
    assert ticket.messages[-1].body == "Voici la pièce." and ticket.messages[-1].attachments[0].filename == "piece.pdf"
    assert "Voici la pièce." in client.get(url).get_data(as_text=True)  # in the request's history
    client.post("/deconnexion")
    login(modif.lead2)  # in scope, not the filer
    assert client.post(f"{url}/message", data={"body": "Moi aussi"}).status_code == 422
    assert ticket.messages[-1].body == "Voici la pièce."
