"""Expert JSON API: knowledge-base search and triage decisions without a ticket; problem details on bad input."""

from __future__ import annotations

import pytest
from test_expert_triage import AMENDMENT, DEADLINE, create_articles

from crm.core import services as crm_services
from expert import RULES_FILE, ruleset
from tickets.models import Ticket


@pytest.fixture
def kb():
    return create_articles()


@pytest.fixture
def demo_rules(reference_data):
    return ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)


@pytest.fixture
def bearer(make_user):
    def _bearer(*roles):
        _token, clear = crm_services.create_api_token(make_user(*roles), "tests")
        return {"Authorization": f"Bearer {clear}"}

    return _bearer


def test_search_returns_articles_best_first(client, kb, bearer):
    response = client.get("/api/v1/kb/search", query_string={"q": DEADLINE["body"], "k": 2},
                          headers=bearer("requester"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["query"] == DEADLINE["body"]
    assert len(body["results"]) == 2
    best = body["results"][0]
    assert best["id"] == "kb-date-limite"
    assert best["confidence"] >= 0.8 and best["url"].endswith("/aide/kb-date-limite")
    assert "13 h" in best["answer"]


def test_search_needs_a_token_and_a_query(client, bearer):
    assert client.get("/api/v1/kb/search", query_string={"q": "dépôt"}).status_code == 401
    response = client.get("/api/v1/kb/search", headers=bearer("agent"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "q" in str(response.get_json())


def test_triage_gives_the_decision_without_creating_a_ticket(client, kb, demo_rules, bearer, count_rows):
    headers = bearer("agent")
    routed = client.post("/api/v1/triage", json={**AMENDMENT, "topic": "depot"}, headers=headers).get_json()
    assert routed["action"] == "routed"
    assert routed["route_to"] == "referents-amendements"
    assert routed["rules"][0]["code"] == "R3"
    assert routed["explanations"][0].startswith("règle R3 « Avenants et modifications du projet » : mot-clé")
    assert routed["candidates"][0]["article_id"] == "kb-avenant"
    answered = client.post("/api/v1/triage", json=DEADLINE, headers=headers).get_json()
    assert (answered["action"], answered["article_id"]) == ("auto_answered", "kb-date-limite")
    assert count_rows(Ticket) == 0


def test_triage_is_for_staff_and_validates_input(client, demo_rules, bearer):
    assert client.post("/api/v1/triage", json=DEADLINE, headers=bearer("requester")).status_code == 403
    response = client.post("/api/v1/triage", json={"body": "sans objet", "profile": "martien"},
                           headers=bearer("agent"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = str(response.get_json())
    assert "subject" in errors and "profile" in errors
