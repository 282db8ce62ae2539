"""The rule engine on its own: parsing, conditions, ordering, explanations, dates (no database)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from expert import RULES_FILE
from expert.rules import Candidate, Question, RuleError, evaluate, find_dates, parse_rules

TODAY = date(2026, 3, 2)
LABELS = {"referents-amendements": "Référents conventionnement et avenants", "high": "haute"}


def q(text: str, **kw) -> Question:
    kw.setdefault("today", TODAY)
    return Question(subject=text, **kw)


def rules(*items) -> list:
    return parse_rules(list(items))


def test_keyword_matches_accents_plurals_and_conjugations():
    rule_set = rules({"code": "R4", "name": "Avenants", "conditions": {"keywords": ["prolongation", "date limite"]},
                      "actions": {"route_to_group": "referents-amendements"}})
    decision = evaluate(rule_set, q("Nous souhaitons PROLONGER notre projet"), threshold=0.8, labels=LABELS)
    assert decision.route_to == "referents-amendements"
    assert decision.explanations == [
        "règle R4 « Avenants » : mot-clé « prolongation » trouvé (« prolonger ») "
        "→ Référents conventionnement et avenants"
    ]
    assert evaluate(rule_set, q("Quelles sont les dates limites ?"), threshold=0.8).route_to
    assert evaluate(rule_set, q("La date du dépôt est-elle limitée ?"), threshold=0.8).route_to is None
    assert evaluate(rule_set, q("Question sans rapport"), threshold=0.8).hits == []


def test_all_conditions_must_hold_and_each_gives_a_reason():
    rule_set = rules({"code": "R1", "name": "Finances en suivi",
                      "conditions": {"topic": ["versements"], "project_state": "follow_up",
                                     "profile": ["coordinator", "entity"], "call": "aapg2024"},
                      "actions": {"set_priority": "high"}})
    base = {"topic": "versements", "project_state": "follow_up", "profiles": frozenset({"requester", "coordinator"}),
            "call": "AAPG2024"}
    decision = evaluate(rule_set, q("solde", **base), threshold=0.8)
    assert decision.priority == "high"
    assert decision.hits[0].reasons == ["thème « versements »", "projet à l'état « follow_up »",
                                        "profil « coordinator »", "appel « AAPG2024 »"]
    for key, other in [("topic", "depot"), ("project_state", "closed"), ("profiles", frozenset({"anonymous"})),
                       ("call", "AAPG2023")]:
        assert evaluate(rule_set, q("solde", **{**base, key: other}), threshold=0.8).hits == []


def test_order_first_rule_wins_and_stop_ends_evaluation():
    rule_set = rules(
        {"code": "A", "name": "Haute", "conditions": {"keywords": "urgent"}, "actions": {"set_priority": "high"}},
        {"code": "B", "name": "Basse", "actions": {"set_priority": "low", "route_to_group": "support"}, "stop": True},
        {"code": "C", "name": "Jamais", "actions": {"route_to_group": "referents-finances"}},
    )
    decision = evaluate(rule_set, q("C'est urgent"), threshold=0.8)
    assert decision.rules_matched == ["A", "B"]
    assert decision.priority == "high"
    assert decision.route_to == "support"
    assert decision.action == "routed"
    assert "règle générale" in decision.hits[1].explanation


def test_disabled_rule_is_skipped():
    rule_set = rules({"code": "A", "name": "Off", "enabled": False, "actions": {"require_human": True}})
    decision = evaluate(rule_set, q("x"), threshold=0.8)
    assert decision.hits == []
    assert decision.action == "human"
    assert decision.notes == ["aucune règle ne s'applique : traitement par la file du thème"]


AUTO = {"code": "R5", "name": "Auto", "conditions": {"confidence_gte": 0.5}, "actions": {"auto_answer": "best"}}


def test_auto_answer_needs_rule_and_threshold():
    strong = [Candidate(7, "Quelle est la date limite ?", 0.9, 0.92), Candidate(8, "Autre", 0.4, 0.1)]
    weak = [Candidate(7, "Quelle est la date limite ?", 0.6, 0.6)]
    decision = evaluate(rules(AUTO), q("date limite", candidates=strong), threshold=0.8)
    assert (decision.action, decision.article_id, decision.confidence) == ("auto_answered", 7, 0.92)
    assert "réponse automatique « Quelle est la date limite ? »" in decision.explanations[0]
    refused = evaluate(rules(AUTO), q("date limite", candidates=weak), threshold=0.8)
    assert refused.action == "human"
    assert refused.article_id is None
    assert "réponse automatique écartée : confiance 0,60 < seuil 0,80" in refused.notes
    no_rule = evaluate([], q("date limite", candidates=strong), threshold=0.8)
    assert no_rule.action == "human"


def test_require_human_from_an_earlier_rule_blocks_auto_answer():
    human = {"code": "H", "name": "Humain", "conditions": {"keywords": ["avenant"]},
             "actions": {"require_human": True, "route_to_group": "referents-amendements"}}
    candidates = [Candidate(3, "Comment demander un avenant ?", 0.95, 0.97)]
    decision = evaluate(rules(human, AUTO), q("avenant", candidates=candidates), threshold=0.8)
    assert decision.action == "routed"
    assert "une règle exige un traitement humain" in decision.notes[0]


def test_auto_answer_with_a_named_article():
    rule = {"code": "X", "name": "Article fixe", "actions": {"auto_answer": "kb-depot-01"}}
    candidates = [Candidate(3, "Autre", 0.95, 0.97), Candidate(4, "Dépôt", 0.9, 0.85, external_id="kb-depot-01")]
    decision = evaluate(rules(rule), q("dépôt", candidates=candidates), threshold=0.8)
    assert decision.article_id == 4
    missing = evaluate(rules(rule), q("dépôt", candidates=candidates[:1]), threshold=0.8)
    assert missing.action == "human"


def test_confidence_below_and_patterns():
    rule_set = rules({"code": "P", "name": "Numéro de projet", "conditions": {
        "patterns": [r"anr-\d{2}-[a-z]+"], "confidence_lt": 0.5}, "actions": {"require_human": True}})
    decision = evaluate(rule_set, q("Mon projet ANR-24-CE12 est bloqué", candidates=[Candidate(1, "t", 0.2, 0.3)]),
                        threshold=0.8)
    assert decision.hits[0].reasons == ["expression « anr-\\d{2}-[a-z]+ » reconnue (« anr-24-ce »)",
                                        "confiance 0,30 < 0,50"]


def test_urgency_cues_and_deadline_within_days():
    rule_set = rules({"code": "U", "name": "Échéance", "conditions": {"urgency": True, "deadline_within_days": 5},
                      "actions": {"set_priority": "urgent"}})
    assert evaluate(rule_set, q("La clôture est le 4 mars, que faire ?"), threshold=0.8).priority == "urgent"
    assert evaluate(rule_set, q("La clôture est le 30 mars"), threshold=0.8).priority is None
    assert evaluate(rule_set, q("Le dépôt ferme le 04/03/2026"), threshold=0.8).priority is None  # no cue
    assert evaluate(rule_set, q("C'est urgent, réponse avant demain"), threshold=0.8).priority == "urgent"


@pytest.mark.parametrize(("text", "expected"), [
    ("avant le 15/03/2026", date(2026, 3, 15)),
    ("avant le 15-03-26", date(2026, 3, 15)),
    ("avant le 2026-03-15", date(2026, 3, 15)),
    ("avant le 1er avril", date(2026, 4, 1)),
    ("avant le 3 Février", date(2027, 2, 3)),  # past this year: next year
    ("le 12 déc. 2026", date(2026, 12, 12)),
    ("avant le 10/03", date(2026, 3, 10)),
    ("dans 3 jours", date(2026, 3, 5)),
    ("d'ici demain", date(2026, 3, 3)),
])
def test_find_dates_in_french(text, expected):
    assert find_dates(text, TODAY) == [expected]


def test_find_dates_ignores_amounts_and_impossible_dates():
    assert find_dates("une aide de 2.5 M€ pour 6 mois, le 31/02/2026", TODAY) == []


@pytest.mark.parametrize(("items", "message"), [
    ([{"name": "x", "actions": {"explode": True}}], "action inconnue « explode »"),
    ([{"name": "x", "conditions": {"colour": "red"}, "actions": {"require_human": True}}], "condition inconnue"),
    ([{"name": "x", "actions": {}}], "au moins une action"),
    ([{"code": "A", "actions": {"require_human": True}}], "le nom est obligatoire"),
    ([{"name": "x", "actions": {"set_priority": "asap"}}], "priorité parmi"),
    ([{"name": "x", "conditions": {"confidence_gte": 2}, "actions": {"require_human": True}}], "entre 0 et 1"),
    ([{"name": "x", "conditions": {"patterns": ["("]}, "actions": {"require_human": True}}], "invalide"),
    ([{"name": "x", "conditions": {"keywords": ["le la"]}, "actions": {"require_human": True}}], "vide"),
    ([{"name": "x", "conditions": {"profile": ["martian"]}, "actions": {"require_human": True}}], "inconnue"),
    ([{"code": "A", "name": "x", "actions": {"require_human": True}}] * 2, "utilisé deux fois"),
    ([{"name": "x", "stop": "yes", "actions": {"require_human": True}}], "true ou false"),
    ({"rules": "nope"}, "liste de règles"),
])
def test_invalid_rules_are_refused_with_a_french_message(items, message):
    with pytest.raises(RuleError, match=message):
        parse_rules(items)


def test_demo_rule_file_is_valid_and_round_trips():
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    parsed = parse_rules(data)
    assert [r.code for r in parsed][:3] == ["R1", "R2", "R3"]
    assert parse_rules([r.to_dict() for r in parsed]) == parsed


def test_demo_rules_send_amendments_to_referents():
    rule_set = parse_rules(yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")))
    question = q("Prolongation", body="Nous souhaitons prolonger notre projet de 6 mois, comment faire un avenant ?",
                 candidates=[Candidate(1, "Comment demander un avenant ?", 0.9, 0.95)])
    decision = evaluate(rule_set, question, threshold=0.8, labels=LABELS)
    assert decision.action == "routed"
    assert decision.route_to == "referents-amendements"
    assert decision.explanations[0].startswith("règle R3 « Avenants et modifications du projet » : mot-clé")
