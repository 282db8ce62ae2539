"""Every page and the API show the SLA state as of now, whatever the sweep has recorded yet."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from factories_crm import make_org

from crm.core.extensions import utcnow
from crm.core.services import create_api_token
from tickets.models import SlaState


@pytest.fixture
def overdue(make_ticket):
    """A ticket submitted three weeks ago that nobody answered, and that the sweep never saw."""
    org = make_org(name="Université des Délais")
    ticket = make_ticket(subject="Question restée sans réponse", organisation_id=org.id,
                         created_at=utcnow() - timedelta(days=21))
    assert ticket.first_response_due_at < utcnow()
    assert ticket.first_response_state == SlaState.ON_TRACK  # as recorded: the sweep did not run
    return ticket, org


def _row(html: str, reference: str) -> str:
    """The table row of a reference in a page."""
    match = re.search(r"<tr>(?:(?!</tr>).)*" + re.escape(reference) + r"(?:(?!</tr>).)*</tr>", html, re.S)
    assert match, f"{reference} is not listed"
    return match.group(0)


def test_a_ticket_past_due_is_breached_everywhere_without_the_sweep(overdue, client, make_user, login):
    ticket, org = overdue
    manager = make_user("manager")
    _token, clear = create_api_token(manager, "test")
    login(manager)

    page = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Dépassé" in page

    queue = client.get("/agent/file?sla=breached&statut=").get_data(as_text=True)
    assert ticket.reference in queue
    assert ticket.reference not in client.get("/agent/file?sla=on_track").get_data(as_text=True)

    view = client.get(f"/crm/organisations/{org.id}").get_data(as_text=True)
    assert "guichet-sla--breached" in _row(view, ticket.reference)

    sla_page = client.get("/responsable/sla").get_data(as_text=True)
    assert ticket.reference in sla_page

    body = client.get(f"/api/v1/tickets/{ticket.reference}", headers={"Authorization": f"Bearer {clear}"}).get_json()
    assert body["sla_state"] == SlaState.BREACHED
    assert body["first_response_state"] == SlaState.BREACHED
    assert body["sla"]["first_response"]["state"] == SlaState.BREACHED
    listed = client.get("/api/v1/tickets?sla_state=breached", headers={"Authorization": f"Bearer {clear}"}).get_json()
    assert [t["sla_state"] for t in listed["items"] if t["reference"] == ticket.reference] == [SlaState.BREACHED]


def test_the_live_state_follows_the_clock_for_one_ticket(make_ticket):
    ticket = make_ticket()
    due, warn = ticket.first_response_due_at, ticket.first_response_warn_at
    assert ticket.sla_state_at(warn - timedelta(seconds=1)) == SlaState.ON_TRACK
    assert ticket.sla_state_at(warn) == SlaState.AT_RISK
    assert ticket.target_state_at("first_response", warn) == SlaState.AT_RISK
    assert ticket.sla_state_at(due) == SlaState.BREACHED
    assert ticket.target_state_at("first_response", due) == SlaState.BREACHED
    assert ticket.target_state_at("resolution", warn) == SlaState.ON_TRACK
