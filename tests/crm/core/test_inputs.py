"""NUL bytes, absurd page numbers and over-nested JSON get a clear 400 everywhere, never a 500."""

from __future__ import annotations

import json

import pytest

from crm.core.inputs import MAX_JSON_DEPTH, json_depth
from crm.core.services import create_api_token

FORM = {"name": "Jeanne", "email": "jeanne@labo.example", "topic": "depot", "subject": "Objet",
        "message": "Message"}


@pytest.mark.parametrize("path", ["/demandes/DEM%00", "/aide/%00", "/portail/projets/%00", "/api/v1/tickets/DEM%00"])
def test_a_nul_byte_in_a_path_names_nothing(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/aide/?q=dép%00ôt", "/portail/?q=a%00", "/api/v1/tickets?q=a%00b"])
def test_a_nul_byte_in_a_query_is_refused(client, path):
    response = client.get(path)
    assert response.status_code == (422 if path.startswith("/api/") else 400)
    if path.startswith("/api/"):
        assert response.mimetype == "application/problem+json" and "caractère nul" in response.get_json()["detail"]


@pytest.mark.parametrize("field", ["subject", "message", "name"])
def test_a_nul_byte_in_a_form_field_is_refused_and_nothing_is_written(client, reference_data, field, count_rows):
    from tickets.models import Ticket

    response = client.post("/demande", data={**FORM, field: "avant\x00après"})
    assert response.status_code == 400
    assert "caractère nul" in response.get_data(as_text=True)
    assert count_rows(Ticket) == 0


@pytest.mark.parametrize("path", ["/agent/file", "/crm/organisations", "/notifications", "/portail/"])
def test_a_page_number_beyond_the_last_possible_is_refused(client, make_user, login, path):
    login(make_user("manager"))
    assert client.get(f"{path}?page=99999999999999999999").status_code == 400
    for harmless in ("2", "0", "-1", "deux"):  # out-of-range but small, or not a number: the first page
        assert client.get(f"{path}?page={harmless}").status_code in (200, 302)


def test_an_api_page_number_beyond_the_last_possible_is_refused(client, make_user):
    _token, clear = create_api_token(make_user("agent"), "test")
    response = client.get("/api/v1/tickets?page=99999999999999999999", headers={"Authorization": f"Bearer {clear}"})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


def test_json_nested_too_deep_is_refused_before_parsing(client, make_user):
    _token, clear = create_api_token(make_user("agent"), "test")
    body = "[" * 50_000 + "]" * 50_000
    response = client.post("/api/v1/tickets", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {clear}"})
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "imbriqué" in response.get_json()["detail"]


def test_json_depth_skips_strings_and_counts_nesting():
    assert json_depth(json.dumps({"a": [1, {"b": "[[[{{{"}]}).encode()) == 3
    assert json_depth(b'"\\"[["') == 0
    assert json_depth(("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)).encode()) == MAX_JSON_DEPTH + 1


@pytest.mark.parametrize("path", ["/notifications/99999999999999999999", "/gestion/articles/2147483648",
                                  "/agent/pieces-jointes/" + "9" * 400, "/crm/organisations/99999999999999999999"])
def test_an_identifier_beyond_the_largest_key_names_nothing(client, make_user, login, path):
    login(make_user("manager"))
    assert client.get(path).status_code == 404
    assert client.get("/notifications/2147483647").status_code == 404  # the largest key: looked up, not found


@pytest.mark.parametrize("body", ["1e308", '"x"', "[]", '{"note": "Bonjour", "submit": "y"}'])
def test_a_json_body_sent_to_a_page_is_refused_before_any_form_reads_it(client, make_user, login, make_ticket,
                                                                         count_rows, body):
    from crm.core.extensions import db
    from tickets.models import Message

    login(make_user("agent"))
    ticket = make_ticket()
    db.session.commit()  # kept by the error response, which rolls back what the test did not commit
    before = count_rows(Message)
    response = client.post(f"/agent/demandes/{ticket.reference}/note", data=body, content_type="application/json")
    assert response.status_code == 415 and "pas du JSON" in response.get_data(as_text=True)
    assert count_rows(Message) == before
    note = client.post(f"/agent/demandes/{ticket.reference}/note", data={"note": "Bonjour"})
    assert note.status_code == 302 and count_rows(Message) == before + 1  # the form itself still works
