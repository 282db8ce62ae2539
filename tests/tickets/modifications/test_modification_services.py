"""The workflow on the request engine: ticket, events, routing, SLA pauses, co-validation, decision, import."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from crm.projects.models import ModificationRequest
from tests.tickets.modifications.conftest import pdf
from tickets.models import Status, Ticket, TicketEvent
from tickets.modifications import services
from tickets.modifications.models import ChangeRequest
from tickets.modifications.services import ModificationError
from tickets.modifications.states import State

EXTENSION = {"new_end_date": "2028-06-30", "reason": "Retard de recrutement"}


def _draft(w, who="lead", kind="extension", role=None):
    return services.start_draft(w.project, kind, filer=getattr(w, who), person_id=getattr(w.people, who).id, role=role)


def _submitted(w, raw=EXTENSION, **kw):
    request = _draft(w, **kw)
    services.submit_request(request, raw, {"letter": pdf()}, by=request.filer)
    return request


def test_only_the_three_roles_may_file(modif):
    assert _draft(modif).filer_role == "coordinator"
    assert _draft(modif, "admin2").filer_role == "administrative_lead"
    with pytest.raises(ModificationError, match="Seuls le responsable scientifique"):
        _draft(modif, "outsider")
    with pytest.raises(ModificationError, match="inconnu"):
        _draft(modif, kind="holidays")


def test_a_draft_is_saved_with_what_parses_and_resumed(modif, count_rows):
    request = _draft(modif, "lead2")
    errors = services.save_draft(request, {"new_end_date": "demain", "reason": "Retard"}, by=modif.lead2)
    assert set(errors) == {"new_end_date"}
    assert db.session.get(ChangeRequest, request.id).data == {"reason": "Retard"}
    assert request.state == State.DRAFT and request.ticket is None and count_rows(Ticket) == 0


def test_submission_opens_a_routed_ticket_waiting_for_the_other_party(modif):
    request = _submitted(modif, who="lead2")
    ticket = request.ticket
    assert request.state == State.CO_VALIDATION
    assert request.co_validator_person_id == modif.people.admin2.id
    assert ticket.reference.startswith("DEM-") and ticket.project_id == modif.project.id
    assert ticket.queue.slug == "referents-amendements" and ticket.topic.slug == "modification-extension"
    assert ticket.sla_policy.name.startswith("Demandes de modification")
    assert ticket.status == Status.WAITING and ticket.next_due_at is None  # the clock waits for the co-validation
    assert [a.filename for a in ticket.messages[0].attachments] == ["letter-lettre.pdf"]
    assert request.documents[0]["slug"] == "letter"
    steps = [(e.data["action"], e.data["after"]) for e in ticket.events if e.kind == "modification"]
    assert steps == [("submit", "submitted"), ("ask_co_validation", "co_validation")]


def test_refused_submission_writes_nothing(modif, count_rows):
    request = _draft(modif)
    with pytest.raises(ModificationError) as refused:
        services.submit_request(request, {"new_end_date": "2027-01-01", "reason": "r"},
                                {"letter": pdf("lettre.docx")}, by=modif.lead)
    assert "postérieure" in refused.value.errors["new_end_date"]
    assert "PDF" in refused.value.errors["document_letter"]
    with pytest.raises(ModificationError) as refused:
        services.submit_request(request, EXTENSION, {}, by=modif.lead)
    assert refused.value.errors == {"document_letter": "Document obligatoire."}
    with pytest.raises(ModificationError, match="auteur"):
        services.submit_request(request, EXTENSION, {"letter": pdf()}, by=modif.lead2)
    assert request.state == State.DRAFT and count_rows(Ticket) == 0


def test_co_validation_only_by_the_designated_person_then_review_with_the_clock_running(modif):
    request = _submitted(modif, who="admin2")
    assert request.co_validator_person_id == modif.people.lead2.id  # the reverse: the scientific lead
    for who in ("admin2", "lead", "admin"):
        with pytest.raises(ModificationError, match="personne désignée"):
            services.co_validate(request, by=getattr(modif, who), person_id=getattr(modif.people, who).id)
    services.co_validate(request, by=modif.lead2, person_id=modif.people.lead2.id)
    assert request.state == State.UNDER_REVIEW and request.co_validated_by == modif.lead2
    assert request.ticket.status == Status.OPEN and request.ticket.next_due_at is not None


def test_declined_co_validation_returns_a_draft_that_can_be_submitted_again(modif):
    request = _submitted(modif, who="lead2")
    with pytest.raises(ModificationError, match="obligatoire"):
        services.decline_co_validation(request, by=modif.admin2, person_id=modif.people.admin2.id, reason=" ")
    services.decline_co_validation(request, by=modif.admin2, person_id=modif.people.admin2.id,
                                   reason="Le calendrier n'est pas joint")
    assert request.state == State.DRAFT
    reference = request.ticket.reference
    services.submit_request(request, EXTENSION, {"letter": pdf(), "schedule": pdf("calendrier.pdf")}, by=modif.lead2)
    assert request.state == State.CO_VALIDATION and request.ticket.reference == reference
    assert len(request.documents) == 2


def test_information_requested_pauses_the_clock_and_the_answer_resumes_it(modif):
    request = _submitted(modif, kind="administrative", who="admin2",
                         raw={"partner": "2", "address": "3 rue des Écoles, Paris", "reason": "Déménagement"})
    assert request.state == State.UNDER_REVIEW  # bank details by the administrative lead: no co-validation
    assert request.ticket.queue.slug == "referents-finances"
    services.request_information(request, by=modif.agent, body="Merci de préciser la date du déménagement.")
    assert request.state == State.INFORMATION_REQUESTED and request.ticket.status == Status.WAITING
    assert request.ticket.next_due_at is None and request.ticket.first_responded_at is not None
    with pytest.raises(ModificationError, match="auteur"):
        services.provide_information(request, by=modif.lead2, body="Le 1er mars.")
    services.provide_information(request, by=modif.admin2, body="Le 1er mars.")
    assert request.state == State.UNDER_REVIEW and request.ticket.next_due_at is not None


def test_decision_is_reasoned_and_illegal_steps_are_refused(modif):
    request = _submitted(modif, who="admin2")
    with pytest.raises(ModificationError, match="En attente de co-validation"):
        services.decide(request, "accept", by=modif.agent, reason="ok")
    services.co_validate(request, by=modif.lead2, person_id=modif.people.lead2.id)
    with pytest.raises(ModificationError, match="obligatoire"):
        services.decide(request, "refuse", by=modif.agent, reason="")
    with pytest.raises(ModificationError, match="inconnue"):
        services.decide(request, "maybe", by=modif.agent, reason="x")
    services.decide(request, "partly_accept", by=modif.agent, reason="Prolongation de 4 mois seulement.")
    assert request.state == State.PARTLY_ACCEPTED and request.ticket.status == Status.RESOLVED
    assert request.decided_by == modif.agent and request.decision_reason == "Prolongation de 4 mois seulement."
    assert request.ticket.messages[-1].body == "Prolongation de 4 mois seulement."
    with pytest.raises(ModificationError, match="Acceptée partiellement"):
        services.withdraw_request(request, by=modif.admin2)
    events = db.session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == request.ticket_id,
                                                             TicketEvent.kind == "modification")).all()
    assert [(e.data["after"], e.actor_id) for e in events][-2:] == [
        ("under_review", modif.lead2.id), ("partly_accepted", modif.agent.id)]


def test_the_nightly_import_closes_what_it_reflects(modif):
    request = _submitted(modif, who="admin2")
    services.co_validate(request, by=modif.lead2, person_id=modif.people.lead2.id)
    services.decide(request, "accept", by=modif.agent, reason="Accordée.")
    assert services.reconcile_with_import() == 0 and request.state == State.ACCEPTED
    other = ModificationRequest(project_id=modif.project.id, number="AV-1", kind="team", state="accepted",
                                decided_on=date.today())
    imported = ModificationRequest(project_id=modif.project.id, number="AV-2", kind="extension", state="accepted",
                                   decided_on=date.today())
    db.session.add_all([other, imported])
    db.session.flush()
    assert services.reconcile_with_import() == 1
    assert request.state == State.CLOSED and request.imported_request == imported
    assert request.ticket.status == Status.CLOSED and request.recorded_at is not None
    assert services.reconcile_with_import() == 0


def test_withdrawal_by_the_filer_closes_the_ticket(modif):
    request = _submitted(modif, who="lead2")
    with pytest.raises(ModificationError, match="auteur"):
        services.withdraw_request(request, by=modif.admin2)
    services.withdraw_request(request, by=modif.lead2)
    assert request.state == State.WITHDRAWN and request.ticket.status == Status.CLOSED


def test_the_queue_follows_the_tickets_due_time_whatever_changes_it(modif):
    from tickets import services as ticket_services
    from tickets.modifications import queries

    request = _submitted(modif, kind="administrative", who="admin2",
                         raw={"partner": "2", "address": "1 rue Neuve", "reason": "Déménagement"})
    assert request.due_at == request.ticket.next_due_at is not None
    due = request.due_at
    rows = db.session.execute(queries.agent_queue(queries.QueueFilters(due_before=due))).all()
    assert [r.id for r, _t in rows] == [request.id]
    ticket_services.put_on_hold(request.ticket, by=modif.agent)  # straight on the ticket, not through this package
    db.session.flush()
    db.session.expire_all()
    request = db.session.get(ChangeRequest, request.id)
    assert request.ticket.next_due_at is None and request.due_at is None
    assert db.session.execute(queries.agent_queue(queries.QueueFilters(due_before=due))).all() == []
    ticket_services.change_status(request.ticket, "open", by=modif.agent)
    db.session.flush()
    db.session.expire_all()
    request = db.session.get(ChangeRequest, request.id)
    assert request.due_at == request.ticket.next_due_at is not None
    services.request_information(request, by=modif.agent, body="Précisez la date.")
    db.session.flush()
    assert request.due_at is None and db.session.execute(queries.agent_queue(queries.QueueFilters())).all()


def test_a_draft_keeps_its_documents_until_it_is_filed(modif, app, monkeypatch):
    from datetime import timedelta

    from tickets.attachments import IncomingFile, remove_orphans, stored_path

    request = _draft(modif, "lead2")
    errors = services.save_draft(request, EXTENSION, by=modif.lead2, files={
        "letter": pdf(), "schedule": IncomingFile("calendrier.docx", b"PK\x03\x04", None)})
    assert set(errors) == {"document_schedule"} and "PDF" in errors["document_schedule"]
    [kept] = request.documents
    assert (kept["slug"], kept["filename"]) == ("letter", "lettre.pdf")
    assert remove_orphans(timedelta(0)) == 0 and stored_path(kept["sha256"]).is_file()  # a draft's file stays
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 10)
    errors = services.save_draft(request, EXTENSION, by=modif.lead2, files={"letter": pdf("autre.pdf")})
    assert "taille maximale" in errors["document_letter"] and request.documents == [kept]  # the kept one stays
    monkeypatch.undo()
    services.submit_request(request, EXTENSION, {}, by=modif.lead2)  # resumed: nothing to attach again
    assert request.state == State.CO_VALIDATION
    assert [a.filename for a in request.ticket.messages[0].attachments] == ["letter-lettre.pdf"]
    assert [(d["slug"], d["sha256"]) for d in request.documents] == [("letter", kept["sha256"])]
