"""The modification requests' API: scope, problem details, nothing written on a refusal."""

from __future__ import annotations

import base64

from crm.core import services as core_services
from crm.core.extensions import db
from tests.tickets.modifications.conftest import PDF
from tickets.modifications.models import ChangeRequest
from tickets.modifications.states import State


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {core_services.create_api_token(user, 'test')[1]}"}


def _document(name="lettre.pdf", content=PDF):
    return {"filename": name, "content_base64": base64.b64encode(content).decode()}


def test_draft_submit_co_validate_and_decide_through_the_api(client, modif, count_rows):
    lead2, admin2, agent = bearer(modif.lead2), bearer(modif.admin2), bearer(modif.agent)
    created = client.post("/api/v1/modifications", headers=lead2, json={
        "project_reference": modif.project.reference, "kind": "extension", "data": {"reason": "Retard"}})
    assert created.status_code == 201 and created.get_json()["state"] == "draft"
    request_id = created.get_json()["id"]
    refused = client.post(f"/api/v1/modifications/{request_id}/submit", headers=lead2,
                          json={"data": {"new_end_date": "2027-01-01", "reason": "Retard"}})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert set(refused.get_json()["errors"]["json"]) == {"new_end_date", "document_letter"}
    assert count_rows(ChangeRequest, ChangeRequest.state == State.DRAFT) == 1
    filed = client.post(f"/api/v1/modifications/{request_id}/submit", headers=lead2, json={
        "data": {"new_end_date": "2028-06-30", "reason": "Retard"}, "documents": {"letter": _document()}})
    assert filed.status_code == 200 and filed.get_json()["state"] == "co_validation"
    assert filed.get_json()["reference"].startswith("DEM-")
    wrong = client.post(f"/api/v1/modifications/{request_id}/co-validation", headers=lead2,
                        json={"decision": "approve"})
    assert wrong.status_code == 409 and "personne désignée" in wrong.get_json()["detail"]
    ok = client.post(f"/api/v1/modifications/{request_id}/co-validation", headers=admin2, json={"decision": "approve"})
    assert ok.get_json()["state"] == "under_review" and ok.get_json()["due_at"]
    assert client.post(f"/api/v1/modifications/{request_id}/actions", headers=admin2,
                       json={"action": "accept", "body": "ok"}).status_code == 403
    no_reason = client.post(f"/api/v1/modifications/{request_id}/actions", headers=agent, json={"action": "accept"})
    assert no_reason.status_code == 409 and "obligatoire" in no_reason.get_json()["detail"]
    decided = client.post(f"/api/v1/modifications/{request_id}/actions", headers=agent,
                          json={"action": "partly_accept", "body": "Quatre mois seulement."})
    assert decided.get_json()["state"] == "partly_accepted"
    exported = client.get("/api/v1/modifications/accepted", headers=agent).get_json()
    assert exported["format"] == "guichet.modifications.accepted/1"
    assert [(i["kind"], i["decision"], i["data"]["new_end_date"]) for i in exported["items"]] == [
        ("extension", "partly_accepted", "2028-06-30")]
    assert client.get("/api/v1/modifications/accepted", headers=lead2).status_code == 403
    url = f"/api/v1/modifications/{request_id}/messages"
    not_filer = client.post(url, headers=admin2, json={"body": "Et moi ?"})
    assert not_filer.status_code == 409 and "auteur" in not_filer.get_json()["detail"]
    bad = client.post(url, headers=lead2, json={"body": "Pièce", "documents": [{"filename": "a.pdf",
                                                                                 "content_base64": "%%"}]})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    replied = client.post(url, headers=lead2, json={"body": "Pourquoi quatre mois ?", "documents": [_document()]})
    assert replied.status_code == 200 and replied.get_json()["state"] == "partly_accepted"
    ticket = db.session.get(ChangeRequest, request_id).ticket
    assert ticket.status == "open" and ticket.messages[-1].body == "Pourquoi quatre mois ?"


def test_scope_and_bad_input_give_problem_details(client, modif):
    outsider, lead2 = bearer(modif.outsider), bearer(modif.lead2)
    created = client.post("/api/v1/modifications", headers=lead2, json={
        "project_reference": modif.project.reference, "kind": "amounts", "data": {"amount_1": "douze"}})
    request_id = created.get_json()["id"]
    assert created.status_code == 201 and created.get_json()["data"] == {}  # what parses of what was sent
    for path in (f"/api/v1/modifications/{request_id}", f"/api/v1/modifications/{2**40}"):
        response = client.get(path, headers=outsider)
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert client.get("/api/v1/modifications", headers=outsider).get_json()["items"] == []
    assert client.get(f"/api/v1/modifications/{request_id}", headers=bearer(modif.admin2)).status_code == 404  # a draft
    assert client.post("/api/v1/modifications", headers=outsider, json={
        "project_reference": modif.project.reference, "kind": "team"}).status_code == 404
    for body in ({"project_reference": modif.project.reference, "kind": "holidays"},
                 {"project_reference": "x\x00", "kind": "team"}, {"kind": "team"}):
        response = client.post("/api/v1/modifications", headers=lead2, json=body)
        assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"
    bad = client.post(f"/api/v1/modifications/{request_id}/submit", headers=lead2,
                      json={"documents": {"letter": {"filename": "a.pdf", "content_base64": "!!!"}}})
    assert bad.status_code == 422
    assert client.get(f"/api/v1/modifications/{request_id}", headers=lead2).get_json()["state"] == "draft"
