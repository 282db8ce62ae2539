"""Triage of new tickets through the real services: decision stored, actions applied, requester's answer."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from expert import RULES_FILE, ruleset, services, signals
from expert.models import Outcome, ReferentProfile, RuleSetVersion, TriageDecision
from expert.rules import RuleError
from tickets import triage
from tickets.models import AuthorKind, Queue, Status
from tickets.services import TicketError

MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ARTICLES = [
    ("kb-date-limite", "Quelle est la date limite de dépôt des propositions ?",
     ["Jusqu'à quand puis-je déposer mon projet ?", "Quand ferme la plateforme de dépôt ?"],
     "La date limite figure dans le texte de l'appel : **13 h**, heure de Paris.", "calendrier"),
    ("kb-avenant", "Comment demander un avenant à la convention ?", ["Comment prolonger mon projet ?"],
     "Depuis l'espace projet, rubrique *Demandes de modification*.", "avenant"),
    ("kb-frais", "Quel est le taux des frais de gestion ?", ["Frais de gestion pour un établissement public"],
     "Le taux est de 8 %.", "financement"),
]
DEADLINE = {"subject": "Date limite", "body": "Quelle est la date limite pour déposer ma proposition ?"}
AMENDMENT = {"subject": "Prolongation du projet",
             "body": "Nous souhaitons prolonger notre projet de 6 mois, comment faire un avenant ?"}


def create_articles() -> dict:
    """Publish the three test articles; returns them by external id."""
    from knowledge_base.services import create_article

    return {ext: create_article({"question": q, "phrasings": p, "answer": a, "topic": t, "status": "published"},
                                None, external_id=ext)
            for ext, q, p, a, t in ARTICLES}


@pytest.fixture
def kb():
    return create_articles()


@pytest.fixture
def demo_rules(reference_data):
    return ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)


@pytest.fixture
def referents(make_user, reference_data):
    """Two available référents in the amendments group."""
    queue = reference_data["queues"]["referents-amendements"]
    people = [make_user("referent"), make_user("referent")]
    for user in people:
        db.session.add(ReferentProfile(user=user, group=queue, topics=["avenant"]))
    db.session.flush()
    return people


@contextmanager
def captured(signal):
    calls = []

    def receiver(sender, **kwargs):
        calls.append((sender, kwargs))

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def test_general_question_is_answered_automatically(kb, demo_rules, make_ticket):
    with captured(signals.auto_answered) as sent:
        ticket = make_ticket(created_at=MONDAY_10H, topic="calendrier", **DEADLINE)
    assert ticket.status == Status.AUTO_ANSWERED
    system = [m for m in ticket.messages if m.author_kind == AuthorKind.SYSTEM]
    assert len(system) == 1 and not system[0].internal
    assert "**13 h**, heure de Paris" in system[0].body  # the article's Markdown, rendered sanitised on the pages
    decision = services.latest_decision(ticket)
    assert (decision.action, decision.outcome) == (Outcome.AUTO_ANSWERED, Outcome.AUTO_ANSWERED)
    assert decision.article_id == kb["kb-date-limite"].id
    assert decision.confidence >= 0.8
    assert decision.rules_matched[-1]["code"] == "R5"
    assert decision.candidates[0]["external_id"] == "kb-date-limite"
    assert ticket.first_responded_at is None  # the SLA keeps counting until a person answers
    assert ticket.sla_policy is not None
    first = next(m for m in ticket.messages if m.author_kind == AuthorKind.REQUESTER)
    assert sent == [(ticket, {"article": kb["kb-date-limite"], "decision": decision, "access_key": ticket.access_key,
                              "first_message": first})]


def test_amendment_goes_to_referents_with_the_rule_explained(kb, demo_rules, referents, make_ticket):
    ticket = make_ticket(created_at=MONDAY_10H, topic="depot", **AMENDMENT)
    assert ticket.queue.slug == "referents-amendements"
    assert ticket.topic.slug == "avenant"
    assert ticket.assignee == referents[0]
    assert ticket.status == Status.OPEN
    assert ticket.sla_policy.name == "Avenants"  # the policy is chosen after triage changed the topic
    decision = services.latest_decision(ticket)
    assert decision.action == Outcome.ROUTED and decision.route_to == "referents-amendements"
    assert decision.explanations[0].startswith(
        "règle R3 « Avenants et modifications du projet » : mot-clé « prolongation » trouvé "
        "→ Référents conventionnement et avenants")
    assert "triage" in [e.kind for e in ticket.events]


def test_low_confidence_question_is_left_to_people(kb, demo_rules, make_ticket):
    ticket = make_ticket(subject="Météo", body="Quel temps fera-t-il à Brest pour le colloque ?", topic="autre")
    decision = services.latest_decision(ticket)
    assert ticket.status == Status.NEW and ticket.queue.slug == "support"
    assert decision.action == Outcome.HUMAN
    assert decision.confidence < 0.8
    assert decision.explanations == ["aucune règle ne s'applique : traitement par la file du thème"]


def test_threshold_comes_from_config(app, kb, demo_rules, make_ticket, monkeypatch):
    monkeypatch.setitem(app.config, "KB_AUTO_ANSWER_CONFIDENCE", 0.9999)
    ticket = make_ticket(**DEADLINE)
    assert ticket.status == Status.NEW
    assert "réponse automatique écartée : confiance" in " ".join(services.latest_decision(ticket).notes)
    assert services.latest_decision(ticket).action == Outcome.HUMAN


def test_urgency_sets_priority_before_the_sla_policy(kb, demo_rules, make_ticket):
    ticket = make_ticket(subject="Dépôt", body="C'est urgent : la clôture du dépôt est demain et le bouton est grisé.",
                         created_at=MONDAY_10H)
    assert ticket.priority == "high"
    assert ticket.sla_policy.name == "Standard — priorité haute"
    assert services.latest_decision(ticket).rules_matched[0]["code"] == "R1"


def test_knowledge_base_failure_does_not_block_the_request(demo_rules, make_ticket, monkeypatch):
    import knowledge_base.index

    def broken(*args, **kwargs):
        raise RuntimeError("index indisponible")

    monkeypatch.setattr(knowledge_base.index, "search_entries", broken)  # what triage searches
    ticket = make_ticket(**DEADLINE)
    assert ticket.id is not None
    assert services.latest_decision(ticket).candidates == []


def test_an_article_withdrawn_since_the_index_was_built_is_never_the_answer(kb, demo_rules, make_ticket):
    from knowledge_base.index import refresh_index
    from knowledge_base.models import Article

    refresh_index()
    # withdrawn as by another instance: the version is not bumped, this process's index still lists it
    db.session.execute(sa.update(Article).where(Article.external_id == "kb-date-limite").values(status="archived"))
    ticket = make_ticket(**DEADLINE)
    decision = services.latest_decision(ticket)
    assert decision.candidates[0]["external_id"] == "kb-date-limite"  # still a candidate (until the refresh)
    assert ticket.status != Status.AUTO_ANSWERED and decision.article_id is None
    assert decision.action == Outcome.HUMAN and "retiré entre-temps" in decision.notes[-1]


def test_referent_chosen_by_load_among_available(referents, make_ticket, reference_data, make_user):
    queue = reference_data["queues"]["referents-amendements"]
    first, second = referents
    assert triage.pick_referent(queue) == first  # tie: lowest id
    make_ticket(topic="avenant").assignee = first
    db.session.flush()
    assert triage.pick_referent(queue) == second
    profile = db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == second.id))
    profile.available = False
    assert triage.pick_referent(queue) == first
    db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == first.id)).max_load = 1
    assert triage.pick_referent(queue) is None


def test_confirmation_resolves_and_counts_as_deflected(kb, demo_rules, make_ticket):
    ticket = make_ticket(created_at=MONDAY_10H, **DEADLINE)
    decision = triage.confirm_answer(ticket, by=None, now=MONDAY_10H + timedelta(minutes=5))
    assert ticket.status == Status.RESOLVED
    assert decision.outcome == Outcome.DEFLECTED
    assert decision.outcome_at == MONDAY_10H + timedelta(minutes=5)
    with pytest.raises(TicketError):
        triage.confirm_answer(ticket, by=None)
    with pytest.raises(TicketError):
        triage.ask_advisor(ticket, by=None)


def test_asking_for_an_advisor_routes_and_keeps_the_sla_from_submission(kb, demo_rules, make_ticket):
    ticket = make_ticket(created_at=MONDAY_10H, topic="calendrier", **DEADLINE)
    due = ticket.first_response_due_at
    with captured(signals.advisor_requested) as sent:
        decision = triage.ask_advisor(ticket, by=None, now=MONDAY_10H + timedelta(hours=1))
    assert ticket.status == Status.OPEN
    assert decision.outcome == Outcome.ESCALATED
    assert ticket.queue.slug == "support"
    assert ticket.created_at == MONDAY_10H
    assert ticket.first_response_due_at == due
    assert len(sent) == 1


def test_writing_back_after_an_automatic_answer_asks_for_an_advisor(kb, demo_rules, make_ticket):
    from tickets import workflow

    ticket = make_ticket(created_at=MONDAY_10H, **DEADLINE)
    workflow.add_requester_reply(ticket, body="Merci, mais mon cas est particulier.",
                                        now=MONDAY_10H + timedelta(hours=1))
    assert ticket.status == Status.OPEN
    assert services.latest_decision(ticket).outcome == Outcome.ESCALATED


def test_asking_for_an_advisor_uses_the_group_of_the_rule(kb, reference_data, referents, make_ticket):
    ruleset.save_rule_set([{"code": "A", "name": "Avenant auto", "conditions": {"keywords": ["avenant"]},
                            "actions": {"auto_answer": "best", "route_to_group": "referents-amendements"}}], by=None)
    ticket = make_ticket(topic="depot", **AMENDMENT)
    assert ticket.status == Status.AUTO_ANSWERED
    triage.ask_advisor(ticket, by=None)
    assert ticket.queue.slug == "referents-amendements"
    assert ticket.assignee == referents[0]


def test_every_change_of_the_rule_set_is_a_version(reference_data, make_user):
    admin = make_user("admin")
    first = ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=admin)
    assert first.number == 1 and first.author == admin
    assert ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=admin) == first  # nothing changed
    ruleset.set_rule_enabled("R2", False, by=admin)
    ruleset.move_rule("R3", -1, by=admin)
    codes = [r.code for r in ruleset.stored_rules()]
    assert codes[:3] == ["R1", "R3", "R2"]
    r2 = next(r for r in ruleset.stored_rules() if r.code == "R2")
    assert (r2.enabled, r2.version) == (False, 2)
    ruleset.delete_rule("R7", by=admin)
    latest = ruleset.latest_version()
    assert latest.number == 4 and latest.comment == "Suppression de la règle R7"
    ruleset.restore_version(first, by=admin)
    assert [r.code for r in ruleset.stored_rules()] == [r["code"] for r in first.rules]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleSetVersion)) == 5


def test_invalid_rule_set_is_refused_and_nothing_changes(reference_data):
    ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)
    before = ruleset.rule_dicts()
    with pytest.raises(RuleError, match="action inconnue"):
        ruleset.save_rule("R1", {"code": "R1", "name": "x", "actions": {"explode": True}}, by=None)
    with pytest.raises(RuleError, match="YAML invalide"):
        ruleset.import_yaml("rules: [", by=None)
    assert ruleset.rule_dicts() == before


def test_triage_decisions_are_kept_per_ticket(kb, demo_rules, make_ticket, count_rows):
    ticket = make_ticket(**DEADLINE)
    assert count_rows(TriageDecision, TriageDecision.ticket_id == ticket.id) == 1
    assert db.session.get(Queue, ticket.queue_id) is not None
