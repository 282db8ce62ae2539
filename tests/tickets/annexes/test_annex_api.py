"""The annexes' JSON API: scope as the portal's, problem details for every refusal, no partial record."""

from __future__ import annotations

import factories_annexes
import sqlalchemy as sa

from crm.core.extensions import db
from crm.core.services import create_api_token
from tickets.annexes.models import AnnexReview, AnnexState, FinancialAnnex

world = factories_annexes.world  # the fixture


def _headers(user) -> dict:
    """A token header; committed (inside the test's transaction) since an error response rolls back."""
    token = create_api_token(user, "test")[1]
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_referent_lists_reads_and_approves_only_in_scope(world, client):
    mine, theirs = world.publish(), world.publish(world.other_partner)
    headers = _headers(world.referent)
    listing = client.get("/api/v1/annexes", headers=headers).get_json()
    assert [a["reference"] for a in listing["items"]] == [mine.reference] and listing["total"] == 1
    assert client.get(f"/api/v1/annexes/{theirs.id}", headers=headers).status_code == 404
    detail = client.get(f"/api/v1/annexes/{mine.id}", headers=headers).get_json()
    assert detail["digest"] == mine.version.digest and detail["figures"]["staff"] == "100000.00"
    out = client.post(f"/api/v1/annexes/{theirs.id}/approval", json={"digest": theirs.version.digest},
                      headers=headers)
    assert out.status_code == 404 and out.mimetype == "application/problem+json"
    done = client.post(f"/api/v1/annexes/{mine.id}/approval", json={"digest": mine.version.digest}, headers=headers)
    assert done.status_code == 200 and done.get_json()["state"] == "approved"
    again = client.post(f"/api/v1/annexes/{mine.id}/approval", json={"digest": mine.version.digest}, headers=headers)
    assert again.status_code == 409 and "n'attend pas de réponse" in again.get_json()["detail"]


def test_corrections_and_stale_digests_are_refused_with_problem_details(world, client):
    annex = world.publish()
    headers = _headers(world.referent)
    url = f"/api/v1/annexes/{annex.id}/corrections"
    unknown = client.post(url, json={"digest": annex.version.digest, "comments": {"salaire": "?"}}, headers=headers)
    assert unknown.status_code == 422 and unknown.mimetype == "application/problem+json"
    stale = client.post(url, json={"digest": "0" * 64, "comments": {"staff": "Trop élevé."}}, headers=headers)
    assert stale.status_code == 409 and "a changé" in stale.get_json()["detail"]
    assert client.post(url, data="{", headers={**headers, "Content-Type": "application/json"}).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AnnexReview)) == 0
    ok = client.post(url, json={"digest": annex.version.digest, "comments": {"staff": "Trop élevé."}}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["state"] == AnnexState.CORRECTIONS


def test_only_the_agency_publishes_and_only_the_referent_answers(world, client):
    body = {"project": world.project.reference, "partner_number": 1, "staff": "100000", "equipment": "0",
            "missions": "0", "subcontracting": "0", "overheads": "0", "requested_aid": "100000", "rate": "100",
            "due_on": "2099-02-02"}
    assert client.post("/api/v1/annexes", json=body, headers=_headers(world.referent)).status_code == 403
    agent = _headers(world.agent)
    over = client.post("/api/v1/annexes", json={**body, "requested_aid": "100001"}, headers=agent)
    assert over.status_code == 422 and "requested_aid" in over.get_json()["errors"]["json"]
    huge = client.post("/api/v1/annexes", json={**body, "staff": "1e400"}, headers=agent)
    assert huge.status_code == 422 and "staff" in huge.get_json()["errors"]["json"]
    missing = client.post("/api/v1/annexes", json={**body, "partner_number": 9}, headers=agent)
    assert missing.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FinancialAnnex)) == 0
    created = client.post("/api/v1/annexes", json=body, headers=agent)
    assert created.status_code == 201 and created.get_json()["current_version"] == 1
    annex_id = created.get_json()["id"]
    refused = client.post(f"/api/v1/annexes/{annex_id}/approval", json={"digest": created.get_json()["digest"]},
                          headers=agent)
    assert refused.status_code == 403
    assert client.get("/api/v1/annexes", headers=agent).get_json()["total"] == 1
    assert client.get("/api/v1/annexes").status_code == 401
