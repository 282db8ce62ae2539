"""The state machine and the seven forms' rules, without a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from crm.projects.models import ModificationKind as Kind
from tickets.modifications import kinds
from tickets.modifications.states import (
    ACTION_LABELS,
    STATE_LABELS,
    TICKET_STATUS,
    TRANSITIONS,
    Actor,
    State,
    TransitionError,
    actions_for,
    step,
)

FACTS = kinds.ProjectFacts(
    reference="ANR-25-CE01-0001", start_date=date(2025, 1, 1), end_date=date(2027, 12, 31),
    aid_granted=Decimal("300000.00"), max_duration_months=48,
    partners=(kinds.PartnerFacts(1, "Université A", "73282932000074", Decimal("200000.00"), True),
              kinds.PartnerFacts(2, "Laboratoire B", None, Decimal("100000.00"))),
)


# -- the state machine ------------------------------------------------------------------------------------


def test_the_happy_path_with_co_validation_reaches_closed():
    state = State.DRAFT
    for action, actor in [("submit", Actor.FILER), ("ask_co_validation", Actor.SYSTEM),
                          ("co_validate", Actor.CO_VALIDATOR), ("request_information", Actor.AGENT),
                          ("provide_information", Actor.FILER), ("partly_accept", Actor.AGENT),
                          ("record", Actor.SYSTEM), ("close", Actor.SYSTEM)]:
        state = step(state, action, actor, reason="motif")
    assert state == State.CLOSED


@pytest.mark.parametrize(("state", "action", "actor", "message"), [
    (State.DRAFT, "accept", Actor.AGENT, "Brouillon"),
    (State.CO_VALIDATION, "accept", Actor.AGENT, "co-validation"),
    (State.UNDER_REVIEW, "co_validate", Actor.CO_VALIDATOR, "En instruction"),
    (State.CLOSED, "withdraw", Actor.FILER, "Clôturée"),
    (State.ACCEPTED, "withdraw", Actor.FILER, "Acceptée"),
    (State.REFUSED, "record", Actor.AGENT, "Refusée"),
])
def test_an_illegal_transition_is_refused_naming_the_current_state(state, action, actor, message):
    with pytest.raises(TransitionError, match=message):
        step(state, action, actor, reason="motif")


def test_the_wrong_actor_is_refused_even_from_the_right_state():
    with pytest.raises(TransitionError, match="ne vous revient pas"):
        step(State.UNDER_REVIEW, "accept", Actor.FILER, reason="motif")
    with pytest.raises(TransitionError, match="ne vous revient pas"):
        step(State.CO_VALIDATION, "co_validate", Actor.FILER)


def test_a_decision_or_a_request_for_information_needs_a_reason():
    for action in ("accept", "partly_accept", "refuse", "request_information"):
        with pytest.raises(TransitionError, match="obligatoire"):
            step(State.UNDER_REVIEW, action, Actor.AGENT, reason="   ")
    assert step(State.UNDER_REVIEW, "refuse", Actor.AGENT, reason="Hors du périmètre de l'appel") == State.REFUSED


def test_unknown_action_and_state_are_refused():
    with pytest.raises(TransitionError, match="inconnue"):
        step(State.DRAFT, "approve", Actor.AGENT)
    with pytest.raises(ValueError):
        step("lost", "submit", Actor.FILER)


def test_every_state_and_action_has_a_label_and_every_filed_state_a_ticket_status():
    assert set(STATE_LABELS) == set(State)
    assert set(ACTION_LABELS) == set(TRANSITIONS)
    assert set(TICKET_STATUS) == set(State) - {State.DRAFT}
    # the clock runs only while the agency works the request
    assert [s for s, status in TICKET_STATUS.items() if status == "open"] == [State.UNDER_REVIEW]


def test_actions_for_lists_only_what_the_actor_may_do():
    assert [t.action for t in actions_for(State.UNDER_REVIEW, Actor.AGENT)] == [
        "request_information", "accept", "partly_accept", "refuse"]
    assert [t.action for t in actions_for(State.UNDER_REVIEW, Actor.FILER)] == ["withdraw"]
    assert actions_for(State.CLOSED, Actor.AGENT) == []


# -- the forms' rules -------------------------------------------------------------------------------------


def test_extension_after_the_current_end_and_within_the_calls_maximum():
    ok = {"new_end_date": "30/06/2028", "reason": "Retard de recrutement"}
    data, errors = kinds.validate(Kind.EXTENSION, ok, FACTS)
    assert errors == {} and data["new_end_date"] == "2028-06-30"
    _, errors = kinds.validate(Kind.EXTENSION, {**ok, "new_end_date": "2027-12-31"}, FACTS)
    assert "postérieure à la date de fin actuelle (31/12/2027)" in errors["new_end_date"]
    _, errors = kinds.validate(Kind.EXTENSION, {**ok, "new_end_date": "2029-01-31"}, FACTS)
    assert "48 mois" in errors["new_end_date"]
    _, errors = kinds.validate(Kind.EXTENSION, {**ok, "new_end_date": "31/02/2028"}, FACTS)
    assert "Date invalide" in errors["new_end_date"]
    no_call = kinds.ProjectFacts(**{**FACTS.__dict__, "max_duration_months": None})
    assert kinds.validate(Kind.EXTENSION, {**ok, "new_end_date": "2029-01-31"}, no_call)[1] == {}


def test_amounts_must_add_up_within_the_grant_and_change_something():
    _, errors = kinds.validate(Kind.AMOUNTS, {"amount_1": "180 000,00", "amount_2": "120000", "reason": "r"},
                               FACTS)
    assert errors == {}
    _, errors = kinds.validate(Kind.AMOUNTS, {"amount_1": "250000", "amount_2": "100000", "reason": "r"}, FACTS)
    assert "dépasse l'aide accordée" in errors["amounts"]
    _, errors = kinds.validate(Kind.AMOUNTS, {"amount_1": "200000", "amount_2": "100000", "reason": "r"}, FACTS)
    assert "aucune modification" in errors["amounts"]
    _, errors = kinds.validate(Kind.AMOUNTS, {"amount_1": "-5", "amount_2": "douze", "reason": "r"}, FACTS)
    assert "Montant invalide" in errors["amount_1"] and "Montant invalide" in errors["amount_2"]
    _, errors = kinds.validate(Kind.AMOUNTS, {"amount_1": "1E+400", "reason": "r"}, FACTS)
    assert "Montant invalide" in errors["amount_1"] and "amount_2" in errors


def test_entry_of_a_beneficiary_known_or_created_with_valid_identifiers():
    base = {"siret": "356 000 000 00048", "lead_name": "Ada", "lead_email": "ada@labo.example",
            "requested_aid": "20000", "entry_date": "2026-01-01", "reason": "r"}
    _, errors = kinds.validate(Kind.BENEFICIARY_ENTRY, base, FACTS)
    assert set(errors) == {"name", "address"}  # unknown to the agency: created, so its name and address
    known = kinds.ProjectFacts(**{**FACTS.__dict__, "known_sirets": frozenset({"35600000000048"})})
    assert kinds.validate(Kind.BENEFICIARY_ENTRY, base, known)[1] == {}
    _, errors = kinds.validate(Kind.BENEFICIARY_ENTRY, {**base, "siret": "73282932000075"}, FACTS)
    assert "clé de contrôle" in errors["siret"]
    _, errors = kinds.validate(Kind.BENEFICIARY_ENTRY, {**base, "siret": "73282932000074"}, FACTS)
    assert "déjà partenaire" in errors["siret"]
    _, errors = kinds.validate(Kind.BENEFICIARY_ENTRY, {**base, "entry_date": "2030-01-01",
                                                        "lead_email": "pas-une-adresse"}, FACTS)
    assert "lead_email" in errors


def test_exit_of_a_beneficiary_not_the_coordinator_and_within_the_project():
    _, errors = kinds.validate(Kind.BENEFICIARY_WITHDRAWAL, {"partner": "2", "exit_date": "2026-06-30",
                                                             "redistribution": "au partenaire 1", "reason": "r"}, FACTS)
    assert errors == {}
    _, errors = kinds.validate(Kind.BENEFICIARY_WITHDRAWAL, {"partner": "1", "exit_date": "2024-06-30",
                                                             "redistribution": "x", "reason": "r"}, FACTS)
    assert "changement de coordinateur" in errors["partner"] and "début du projet" in errors["exit_date"]
    _, errors = kinds.validate(Kind.BENEFICIARY_WITHDRAWAL, {"partner": "9"}, FACTS)
    assert "partenaire du projet" in errors["partner"] and errors["reason"] == "Ce champ est obligatoire."


def test_team_change_and_coordinator_change_require_what_the_change_needs():
    _, errors = kinds.validate(Kind.TEAM, {"partner": "2", "change": "replace", "person_name": "Lin",
                                           "person_email": "lin@labo.example", "reason": "r"}, FACTS)
    assert "replaced_name" in errors
    _, errors = kinds.validate(Kind.TEAM, {"partner": "2", "change": "dismiss", "person_name": "Lin",
                                           "reason": "r"}, FACTS)
    assert "possibilités" in errors["change"]
    _, errors = kinds.validate(Kind.COORDINATOR, {"change": "both", "new_managing_partner": "1", "reason": "r"},
                               FACTS)
    assert {"new_coordinator_name", "new_coordinator_email", "new_managing_partner"} <= set(errors)


def test_administrative_information_checks_iban_and_siret_and_needs_one_change():
    data, errors = kinds.validate(Kind.ADMINISTRATIVE, {"partner": "2", "iban": "FR76 3000 6000 0112 3456 7890 189",
                                                        "reason": "Changement de banque"}, FACTS)
    assert errors == {} and data["iban"] == "FR7630006000011234567890189"
    _, errors = kinds.validate(Kind.ADMINISTRATIVE, {"partner": "2", "iban": "FR76 3000 6000 0112 3456 7890 180",
                                                     "new_siret": "12345678901234", "reason": "r"}, FACTS)
    assert "IBAN" in errors["iban"] and "SIRET" in errors["new_siret"]
    _, errors = kinds.validate(Kind.ADMINISTRATIVE, {"partner": "2", "bic": "BNPAFRPP", "reason": "r"}, FACTS)
    assert "au moins un changement" in errors["iban"]


def test_a_draft_keeps_what_parses_and_reports_only_what_does_not():
    data, errors = kinds.validate(Kind.EXTENSION, {"new_end_date": "bientôt", "reason": "En cours"}, FACTS,
                                  complete=False)
    assert data == {"reason": "En cours"} and set(errors) == {"new_end_date"}
    assert kinds.validate(Kind.EXTENSION, {}, FACTS, complete=False) == ({}, {})


def test_documents_required_per_kind_and_per_data():
    assert [d.slug for d in kinds.required_documents(Kind.BENEFICIARY_ENTRY, {})] == ["letter", "commitment", "annex"]
    assert kinds.required_documents(Kind.ADMINISTRATIVE, {"address": "1 rue"}) == []
    assert [d.slug for d in kinds.required_documents(Kind.ADMINISTRATIVE, {"iban": "FR76…"})] == ["rib"]
    assert kinds.needs_co_validation(Kind.EXTENSION, "administrative_lead")
    assert not kinds.needs_co_validation(Kind.ADMINISTRATIVE, "administrative_lead")
    assert kinds.needs_co_validation(Kind.ADMINISTRATIVE, "scientific_lead")


def test_prefill_and_summary_come_from_the_project():
    assert kinds.prefill(Kind.AMOUNTS, FACTS) == {"amount_1": "200000.00", "amount_2": "100000.00"}
    text = kinds.summary(Kind.AMOUNTS, {"amount_1": "180000.00", "amount_2": "120000.00", "reason": "r"}, FACTS)
    assert "Montant partenaire 2 (Laboratoire B) : 100000.00 € → 120000.00 €" in text
    assert set(kinds.KIND_ORDER) == set(Kind) and len(kinds.KIND_ORDER) == 7
