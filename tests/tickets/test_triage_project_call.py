"""Triage knows the call of the project a ticket was linked to, however it was linked (issue 11)."""

from __future__ import annotations

from crm.organisations.models import OrgKind
from expert import services as expert
from tests.factories_crm import make_org, make_partner, make_person, make_project


def test_a_project_linked_by_its_sender_gives_triage_its_call(reference_data, make_ticket):
    university = make_org(OrgKind.HEADQUARTERS, name="Université X")
    lead = make_person(email="claire.lead@univ-x.example", last_name="Lead")
    project = make_project(reference="ANR-24-CE01-0009", call_code="AAPG2024", state="contracting")
    make_partner(project, university, scientific_lead=lead)
    # no reference typed: the project is the sender's only active one
    ticket = make_ticket(requester_email="claire.lead@univ-x.example", subject="Question",
                         body="Comment se passe la suite pour nous ?")
    assert ticket.project == project
    decision = expert.latest_decision(ticket)
    assert decision.call_code == "AAPG2024" and decision.call_source == "project"
