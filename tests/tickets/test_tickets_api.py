"""Tickets JSON API: create, list, read with SLA, reply, status, claim; problem details; OpenAPI; fuzzing."""

from __future__ import annotations

import json

import flask_babel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.core import services as accounts
from crm.core.extensions import db
from tickets import services
from tickets.models import Message, Status, Ticket


@pytest.fixture
def api(client, reference_data, make_user):
    """Tokens for an agent, a manager and two requesters, committed so that error responses keep them."""

    class Api:
        def __init__(self):
            self.agent = make_user("agent", name="Agent API")
            self.other_agent = make_user("agent", name="Autre agent")
            self.requester = make_user("requester", email="demandeur@labo.example", name="Jeanne Demandeur")
            self.stranger = make_user("requester", email="autre@labo.example")
            self.tokens = {}
            for key in ("agent", "other_agent", "requester", "stranger"):
                _token, clear = accounts.create_api_token(getattr(self, key), "tests")
                self.tokens[key] = clear
            db.session.commit()

        def call(self, method: str, path: str, who: str | None = "agent", **kwargs):
            headers = kwargs.pop("headers", {})
            if who:
                headers["Authorization"] = f"Bearer {self.tokens[who]}"
            return client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

        def create(self, who: str = "agent", **body):
            data = {"subject": "Question sur le budget", "body": "Quelles dépenses sont éligibles ?",
                    "requester_email": "demandeur@labo.example", "requester_name": "Jeanne Demandeur"}
            data.update(body)
            if who != "agent":
                data.pop("requester_email", None)
            response = self.call("POST", "/tickets", who, json=data)
            assert response.status_code == 201, response.get_json()
            return response.get_json()

    return Api()


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"]
    return body


def test_create_returns_reference_status_and_sla(api):
    body = api.create(topic="financement", priority="high", project_reference="ANR-24-CE01-0001")
    assert body["reference"].startswith("DEM-")
    assert body["status"] == Status.NEW
    assert body["channel"] == "api"
    assert body["queue"] == "referents-finances"
    assert body["sla_policy"]["name"] == "Standard — priorité haute"
    assert body["first_response_due_at"] and body["resolution_due_at"]
    assert body["sla"]["first_response"]["due_at"] == body["first_response_due_at"]
    assert body["sla"]["first_response"]["target_seconds"] == 450 * 60
    assert body["project_reference"] == "ANR-24-CE01-0001"
    ticket = services.ticket_by_reference(body["reference"])
    assert ticket.channel == "api"


def test_requester_token_files_in_own_name_only(api):
    body = api.create("requester")
    assert body["requester_email"] == "demandeur@labo.example"
    response = api.call("POST", "/tickets", "requester",
                        json={"subject": "S", "body": "B", "requester_email": "quelquun@ailleurs.example"})
    assert "requester_email" in _problem(response, 422)["errors"]["json"]
    response = api.call("POST", "/tickets", "requester", json={"subject": "S", "body": "B", "priority": "urgent"})
    assert "priority" in _problem(response, 422)["errors"]["json"]


@pytest.mark.parametrize("stored, given", [("julie.fontaine@labo.example", "Julie.Fontaine@labo.example"),
                                           ("Julie.Fontaine@labo.example", "julie.fontaine@labo.example")])
def test_requester_files_in_own_name_whatever_the_case_as_on_the_web_form(api, stored, given):
    julie = api.requester
    julie.email = stored  # an address kept as written (an older account), or typed with capitals
    db.session.commit()
    response = api.call("POST", "/tickets", "requester", json={"subject": "S", "body": "B", "requester_email": given})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["requester_email"] == "julie.fontaine@labo.example"
    assert services.ticket_by_reference(body["reference"]).requester_id == julie.id
    assert api.call("GET", f"/tickets/{body['reference']}", "requester").status_code == 200


def test_validation_errors_are_field_problems(api):
    response = api.call("POST", "/tickets", json={"subject": 12, "priority": "immédiate", "extra": 1})
    errors = _problem(response, 422)["errors"]["json"]
    assert set(errors) >= {"subject", "body", "priority", "extra"}
    assert "immédiate" in errors["priority"][0]
    response = api.call("POST", "/tickets", json={"subject": "S", "body": "B"})
    assert "requester_email" in _problem(response, 422)["errors"]["json"]


def test_service_refusal_is_422_with_its_message(api, count_rows):
    response = api.call("POST", "/tickets", json={"subject": "  ", "body": "B", "requester_email": "a@b.example"})
    assert "obligatoires" in _problem(response, 422)["detail"]
    response = api.call("POST", "/tickets", json={"subject": "S", "body": "B", "requester_email": "a@b.example",
                                                  "topic": "inexistant"})
    assert "Thème inconnu" in _problem(response, 422)["detail"]
    assert count_rows(Ticket) == 0


def test_malformed_json_is_400(api):
    response = api.call("POST", "/tickets", data="{pas du json", content_type="application/json")
    _problem(response, 400)


def test_authentication_and_roles(api):
    assert _problem(api.call("GET", "/tickets", who=None), 401)["detail"]
    _problem(api.call("GET", "/tickets", headers={"Authorization": "Bearer gch_faux"}, who=None), 401)
    _problem(api.call("GET", "/tickets", "requester"), 403)
    reference = api.create()["reference"]
    _problem(api.call("POST", f"/tickets/{reference}/status", "requester", json={"status": "closed"}), 403)
    _problem(api.call("POST", f"/tickets/{reference}/claim", "requester"), 403)


def test_requester_reads_and_replies_to_own_ticket_only(api):
    reference = api.create("requester")["reference"]
    api.call("POST", f"/tickets/{reference}/replies", json={"body": "Note pour l'équipe", "internal": True})
    mine = api.call("GET", f"/tickets/{reference}", "requester")
    assert mine.status_code == 200
    assert [m["internal"] for m in mine.get_json()["messages"]] == [False]
    staff = api.call("GET", f"/tickets/{reference}").get_json()
    assert [m["internal"] for m in staff["messages"]] == [False, True]
    _problem(api.call("GET", f"/tickets/{reference}", "stranger"), 404)
    _problem(api.call("POST", f"/tickets/{reference}/replies", "stranger", json={"body": "?"}), 404)
    response = api.call("POST", f"/tickets/{reference}/replies", "requester", json={"body": "Précision"})
    assert response.status_code == 201 and response.get_json()["author_kind"] == "requester"
    _problem(api.call("POST", f"/tickets/{reference}/replies", "requester", json={"body": "x", "internal": True}), 403)


def test_unknown_reference_is_404(api):
    for reference in ("DEM-2026-999999", "n'importe quoi", "DEM-2026-%00"):
        _problem(api.call("GET", f"/tickets/{reference}"), 404)


def test_staff_reply_stops_first_response_clock(api):
    reference = api.create()["reference"]
    response = api.call("POST", f"/tickets/{reference}/replies", json={"body": "Voici la réponse."})
    assert response.status_code == 201
    body = api.call("GET", f"/tickets/{reference}").get_json()
    assert body["status"] == Status.OPEN
    assert body["first_response_state"] == "met"
    clock = body["sla"]["first_response"]
    assert clock["state"] == "met" and clock["stopped_at"] and clock["due_at"] is None
    assert body["assignee"]["name"] == "Agent API"


def test_ticket_sla_detail_has_both_clocks(api):
    reference = api.create()["reference"]
    sla = api.call("GET", f"/tickets/{reference}").get_json()["sla"]
    assert sla["policy"]["name"] == "Standard"
    for target in ("first_response", "resolution"):
        clock = sla[target]
        assert set(clock) >= {"due_at", "warn_at", "state", "elapsed_seconds", "remaining_seconds", "paused",
                              "reason"}
        assert clock["elapsed_seconds"] + clock["remaining_seconds"] == clock["target_seconds"]
        assert clock["paused"] is False


def test_status_change_follows_transitions_and_pauses(api):
    reference = api.create()["reference"]
    response = api.call("POST", f"/tickets/{reference}/status", json={"status": "waiting_on_requester"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "waiting_on_requester" and body["sla_paused"] is True
    assert body["sla"]["resolution"]["paused"] is True
    api.call("POST", f"/tickets/{reference}/status", json={"status": "closed"})
    response = api.call("POST", f"/tickets/{reference}/status", json={"status": "open"})
    assert "Impossible" in _problem(response, 409)["detail"]
    assert "status" in _problem(api.call("POST", f"/tickets/{reference}/status", json={"status": "x"}),
                                422)["errors"]["json"]
    response = api.call("POST", f"/tickets/{reference}/replies", json={"body": "Trop tard"})
    assert "clôturée" in _problem(response, 409)["detail"]


def test_a_refusal_is_in_the_language_the_client_asks_for(api):
    reference = api.create()["reference"]
    api.call("POST", f"/tickets/{reference}/status", json={"status": "closed"})
    flask_babel.refresh()  # the test's app context spans requests; each real request chooses its locale afresh
    response = api.call("POST", f"/tickets/{reference}/status", json={"status": "open"},
                        headers={"Accept-Language": "en"})
    assert _problem(response, 409)["detail"] == "Cannot move from “Closed” to this status."


def test_claim_once(api):
    reference = api.create()["reference"]
    response = api.call("POST", f"/tickets/{reference}/claim")
    assert response.status_code == 200 and response.get_json()["assignee"]["name"] == "Agent API"
    assert api.call("POST", f"/tickets/{reference}/claim").status_code == 200  # idempotent for the holder
    _problem(api.call("POST", f"/tickets/{reference}/claim", "other_agent"), 409)


def test_list_filters_and_paginates(api):
    for i in range(5):
        api.create(subject=f"Versement numéro {i}", topic="versements")
    api.create(subject="Dépôt", priority="urgent")
    closed = api.create(subject="Ancienne")["reference"]
    api.call("POST", f"/tickets/{closed}/status", json={"status": "closed"})

    body = api.call("GET", "/tickets?per_page=2").get_json()
    assert body["pagination"] == {"page": 1, "per_page": 2, "total": 6, "pages": 3, "total_capped": False,
                                  "next_page": 2, "prev_page": None}
    assert body["items"][0]["priority"] == "urgent"  # due first
    dues = [t["next_due_at"] for t in api.call("GET", "/tickets").get_json()["items"]]
    assert dues == sorted(dues)

    def refs(query: str) -> int:
        return len(api.call("GET", "/tickets?" + query).get_json()["items"])

    assert refs("queue=referents-finances") == 5
    assert refs("topic=versements&priority=normal") == 5
    assert refs("priority=urgent") == 1
    assert refs("status=closed") == 1
    assert refs("status=all") == 7
    assert refs("q=numéro 3") == 1
    assert refs("assignee=none") == 6
    assert refs("assignee=me") == 0
    assert refs("sla_state=on_track") == 6
    assert refs("sla_state=breached") == 0
    assert api.call("GET", "/tickets?per_page=1000").get_json()["pagination"]["per_page"] == 100
    errors = _problem(api.call("GET", "/tickets?page=0&priority=haute&sla_state=x"), 422)["errors"]["query"]
    assert set(errors) == {"page", "priority", "sla_state"}
    _problem(api.call("GET", "/tickets?queue=inconnue"), 422)


def test_openapi_describes_every_endpoint_with_bearer_auth(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "Jeton d'API personnel"}
    expected = {
        ("/api/v1/tickets", "post"): "TicketCreate",
        ("/api/v1/tickets", "get"): None,
        ("/api/v1/tickets/{reference}", "get"): None,
        ("/api/v1/tickets/{reference}/replies", "post"): "Reply",
        ("/api/v1/tickets/{reference}/status", "post"): "StatusChange",
        ("/api/v1/tickets/{reference}/claim", "post"): None,
    }
    for (path, method), request_schema in expected.items():
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}]
        assert operation["summary"]
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert "$ref" in operation["responses"][success]["content"]["application/json"]["schema"]
        assert "application/problem+json" in operation["responses"]["401"]["content"]
        if request_schema:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/" + request_schema)
    list_params = {p["name"] for p in spec["paths"]["/api/v1/tickets"]["get"]["parameters"]}
    assert list_params >= {"status", "queue", "priority", "topic", "assignee", "sla_state", "q", "page", "per_page"}
    for name in ("Ticket", "TicketDetail", "SlaTarget", "Problem", "TicketPage"):
        assert name in spec["components"]["schemas"]


# -- never a 500 -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["subject", "body", "requester_email", "requester_name", "topic", "priority",
                               "project_reference", "internal", "status", "reason", "x"])
objects = st.dictionaries(field_names, json_values, max_size=8)
odd_strings = st.sampled_from(["", " ", "\x00", "a\x00b", "DEM-2026-000001", "é" * 300, "a@b", "a@b.example",
                               "urgent", "closed", "'; DROP TABLE tickets; --", "%", "\\"])
raw_bodies = st.one_of(
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.sampled_from(['{"subject": "\\ud800", "body": "x", "requester_email": "a@b.example"}', "[]", "null", "1",
                     '"texte"', '{"subject": "a", "body": "b", "requester_email": "a@b.example", "topic": "\\u0000"}',
                     "{" * 50, '{"internal": "peut-être", "body": "x"}']),
    objects.map(json.dumps),
    st.dictionaries(field_names, odd_strings, max_size=6).map(json.dumps),
)
paths = st.sampled_from(["/tickets", "/tickets/{ref}/replies", "/tickets/{ref}/status", "/tickets/{ref}/claim"])
query_keys = st.sampled_from(["status", "queue", "priority", "topic", "assignee", "sla_state", "q", "page",
                              "per_page", "x"])
query_values = st.one_of(st.text(max_size=20), odd_strings, st.integers(min_value=-(10**30), max_value=10**30).map(str))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=paths, body=raw_bodies, who=st.sampled_from(["agent", "requester"]),
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
def test_garbage_posts_never_give_500(api, path, body, who, content_type):
    if not hasattr(api, "reference"):
        api.reference = api.create("requester")["reference"]
    response = api.call("POST", path.format(ref=api.reference), who, data=body, content_type=content_type)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.tuples(query_keys, query_values), max_size=5),
       reference=st.one_of(st.text(max_size=20), odd_strings))
def test_garbage_queries_never_give_500(api, params, reference):
    response = api.call("GET", "/tickets", query_string=params)
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:500]
    response = api.call("GET", "/tickets/" + reference.replace("/", "").replace("?", "").replace("#", ""))
    assert response.status_code < 500


def test_message_count_after_api_reply(api, count_rows):
    reference = api.create()["reference"]
    api.call("POST", f"/tickets/{reference}/replies", json={"body": "Réponse"})
    ticket = services.ticket_by_reference(reference)
    assert count_rows(Message, Message.ticket_id == ticket.id) == 2
