"""Call-aware answers (issue 11, part 2): the call a question is about, and no answer from another call's article.

Real ambiguous French questions, on the demo knowledge base, calls and rules: the detection alone, then triage.
"""

from __future__ import annotations

from datetime import date

import pytest

from crm.core import registry
from crm.core.extensions import db
from crm.projects.models import Call, CallState, Project
from expert import rules as rules_engine
from expert import services
from expert.calls import CallCatalogue, KnownCall, call_catalogue, detect_call

DAY = date(2026, 12, 2)  # AAPG-2026, JCJC-2026, PRCE-2026 and ETER-2026 open; AAPG-2025 closed
DEADLINE = "Quelle est la date limite pour déposer ma proposition ?"


@pytest.fixture
def demo(app):
    """The demo seeders up to the tickets' reference data: calls, knowledge base, rules (no sample tickets)."""
    context: dict = {"n_tickets": 0}
    for order, _name, seed in registry.seeders(app):
        if order <= 30:
            seed(context)
    return context


CATALOGUE = CallCatalogue([
    KnownCall("AAPG-2026", "Appel à projets générique 2026", ("AAPG",), ("appel générique",), 2026,
              date(2026, 7, 1), date(2027, 4, 1), CallState.OPEN),
    KnownCall("AAPG-2025", "Appel à projets générique 2025", ("AAPG",), ("appel générique",), 2025,
              date(2024, 7, 1), date(2025, 4, 3), CallState.CLOSED),
    KnownCall("AAPG-2027", "Appel à projets générique 2027", ("AAPG",), ("appel générique",), 2027,
              date(2027, 10, 1), None, CallState.UPCOMING),
    KnownCall("JCJC-2026", "Jeunes chercheuses et jeunes chercheurs 2026", ("JCJC",), (), 2026,
              None, None, CallState.OPEN),
    KnownCall("ETER-2026", "Extensions territoriales 2026", ("ETER",), ("extensions territoriales",), 2026,
              date(2026, 10, 15), date(2027, 1, 28), CallState.OPEN),
    KnownCall("AAPG2024", "Appel à projets générique 2024", year=2024),  # known only from projects
])


@pytest.mark.parametrize(("text", "code", "evidence"), [
    ("Bonjour, quelle est la date limite de l'appel Extensions territoriales ?", "ETER-2026",
     "extensions territoriales"),
    ("Pour l'extension territoriale, jusqu'à quand peut-on déposer ?", "ETER-2026", "extension territoriale"),
    ("Date de clôture de l'AAPG 2025 ?", "AAPG-2025", "aapg 2025"),
    ("Je dépose au titre de l'AAPG-2024, le budget est-il plafonné ?", "AAPG2024", "aapg 2024"),
    ("Combien de pages pour un JCJC2026 ?", "JCJC-2026", "jcjc2026"),
    ("L'appel générique 2027 ouvrira-t-il en octobre ?", "AAPG-2027", "appel generique 2027"),
])
def test_a_call_named_in_the_text_is_detected_with_what_was_read(text, code, evidence):
    detection = detect_call(text, CATALOGUE, today=DAY)
    assert (detection.code, detection.source, detection.evidence) == (code, "text", evidence)
    assert detection.explanation().startswith(f"appel détecté : {CATALOGUE.get(code).label}")


def test_an_acronym_shared_by_several_calls_means_the_only_open_one_and_says_so():
    detection = detect_call("Quelle est la date limite de l'AAPG ?", CATALOGUE, today=DAY)
    assert detection.code == "AAPG-2026" and detection.is_open is True
    assert detection.explanation() == ("appel détecté : Appel à projets générique 2026 (AAPG-2026), ouvert, "
                                       "cité dans la question (« aapg »), seul appel ouvert de ce nom")
    # once no call of that name is open, it is a question to ask, not a guess
    later = detect_call("Quelle est la date limite de l'AAPG ?", CATALOGUE, today=date(2027, 6, 1))
    assert later.code is None and set(later.choices) == {"AAPG-2025", "AAPG-2026", "AAPG-2027"}


@pytest.mark.parametrize(("text", "choices"), [
    ("Je suis lauréat de l'AAPG 2025, puis-je redéposer à l'appel Extensions territoriales ?",
     ("ETER-2026", "AAPG-2025")),
    ("JCJC ou AAPG 2026 : lequel choisir pour une première demande ?", ("AAPG-2026", "JCJC-2026")),
])
def test_a_question_naming_several_calls_detects_none_and_keeps_them_to_ask(text, choices):
    detection = detect_call(text, CATALOGUE, today=DAY)
    assert detection.code is None and detection.choices == choices
    assert detection.explanation().startswith("appel non déterminé : la question cite plusieurs appels")


def test_the_context_gives_the_call_and_the_text_may_only_confirm_it():
    by_project = detect_call(DEADLINE, CATALOGUE, today=DAY, project_call="AAPG2025")
    assert (by_project.code, by_project.source, by_project.is_open) == ("AAPG-2025", "project", False)
    assert by_project.explanation() == ("appel détecté : Appel à projets générique 2025 (AAPG-2025), fermé, "
                                        "appel du projet lié")
    confirmed = detect_call("Date limite de l'AAPG 2025 ?", CATALOGUE, today=DAY, project_call="AAPG2025")
    assert confirmed.code == "AAPG-2025" and confirmed.evidence == "aapg 2025"
    conflict = detect_call("Date limite des extensions territoriales ?", CATALOGUE, today=DAY,
                           project_call="AAPG2024")
    assert conflict.code is None and conflict.choices == ("AAPG2024", "ETER-2026")
    assert conflict.explanation() == ("appel non déterminé : appel du projet lié AAPG2024, "
                                      "mais la question cite ETER-2026")
    stated = detect_call(DEADLINE, CATALOGUE, today=DAY, stated="JCJC-2026", project_call="AAPG2024")
    assert (stated.code, stated.source) == ("JCJC-2026", "form")
    chosen = detect_call("Date limite des extensions territoriales ?", CATALOGUE, today=DAY,
                         chosen="AAPG-2026", project_call="AAPG2024")
    assert (chosen.code, chosen.source) == ("AAPG-2026", "choice")


def test_no_call_named_detects_nothing_and_says_nothing():
    detection = detect_call("Comment créer un compte sur la plateforme de dépôt ?", CATALOGUE, today=DAY)
    assert detection.code is None and detection.choices == () and detection.explanation() is None


# --- The rules engine: an article limited to calls answers only its calls' questions ---------------------


def _question(call=None, choices=(), call_open=None) -> rules_engine.Question:
    question = rules_engine.Question(subject="Date limite", body=DEADLINE, call=call, call_open=call_open,
                                     call_choices=choices)
    question.candidates = [rules_engine.Candidate(1, "Quelle est la date limite pour déposer ma proposition ?",
                                                  score=0.9, confidence=0.87, calls=("AAPG-2026", "JCJC-2026"))]
    return question


AUTO = rules_engine.parse_rules([{"code": "R5", "name": "Réponse automatique", "conditions": {"confidence_gte": 0.8},
                                  "actions": {"auto_answer": "best"}}])


def test_an_article_limited_to_calls_waits_for_the_call_when_none_is_detected():
    decision = rules_engine.evaluate(AUTO, _question(), threshold=0.8)
    assert decision.action == rules_engine.OUTCOME_HUMAN and decision.article_id is None
    assert decision.call_choices == ["AAPG-2026", "JCJC-2026"]
    assert decision.notes == [
        "réponse automatique suspendue : l'article « Quelle est la date limite pour déposer ma proposition ? » "
        "ne vaut que pour « AAPG-2026 », « JCJC-2026 » et l'appel de la question n'est pas identifié → appel "
        "demandé au demandeur parmi « AAPG-2026 », « JCJC-2026 »"]
    ambiguous = rules_engine.evaluate(AUTO, _question(choices=("AAPG-2025", "AAPG-2026")), threshold=0.8)
    assert ambiguous.call_choices == ["AAPG-2025", "AAPG-2026"]
    covered = rules_engine.evaluate(AUTO, _question(choices=("JCJC-2026", "AAPG-2026")), threshold=0.8)
    assert covered.action == "auto_answered"  # whichever of the two calls it is, the article holds


def test_an_article_answers_its_own_calls_whatever_the_spelling_of_the_code_and_never_another():
    assert rules_engine.evaluate(AUTO, _question(call="aapg 2026"), threshold=0.8).action == "auto_answered"
    other = rules_engine.evaluate(AUTO, _question(call="ETER-2026"), threshold=0.8)
    assert other.action == rules_engine.OUTCOME_HUMAN and other.call_choices == []
    assert "pas l'appel « ETER-2026 »" in other.notes[0]


def test_rules_test_the_detected_call_and_whether_it_is_open():
    rules = rules_engine.parse_rules([
        {"code": "C1", "name": "Appel clos", "conditions": {"call_open": False}, "actions": {"require_human": True}},
        {"code": "C2", "name": "Appel générique", "conditions": {"call": ["AAPG2026"], "call_open": True},
         "actions": {"set_priority": "high"}},
    ])
    closed = rules_engine.evaluate(rules, _question(call="AAPG-2025", call_open=False), threshold=0.8)
    assert closed.require_human and closed.explanations[0] == (
        "règle C1 « Appel clos » : appel « AAPG-2025 » fermé → traitement par un conseiller")
    open_ = rules_engine.evaluate(rules, _question(call="AAPG-2026", call_open=True), threshold=0.8)
    assert open_.priority == "high" and not open_.require_human
    assert open_.explanations[0] == ("règle C2 « Appel générique » : appel « AAPG-2026 », appel « AAPG-2026 » ouvert "
                                     "→ priorité high")
    unknown = rules_engine.evaluate(rules, _question(), threshold=0.8)
    assert not unknown.hits[:1] or unknown.hits[0].code not in ("C1", "C2")
    with pytest.raises(rules_engine.RuleError, match="call_open"):
        rules_engine.parse_rules([{"code": "X", "name": "x", "conditions": {"call_open": "oui"},
                                   "actions": {"require_human": True}}])


# --- Triage on the demo data -------------------------------------------------------------------------------


def test_the_issue_question_is_not_answered_with_the_generic_call_deadline(demo):
    """The question of the issue: auto-answered with AAPG 2026's deadline at 0.866 before this change."""
    question, _version, decision, articles = services.decide(
        subject="Date limite extensions territoriales",
        body="Bonjour, quelle est la date limite de dépôt pour l'appel Extensions territoriales ? Merci.",
        topic="calendrier", today=DAY)
    assert question.call == "ETER-2026" and question.call_source == "text" and question.call_open is True
    assert decision.action != "auto_answered"
    assert "cal-date-limite-depot" not in {a.external_id for a in articles.values()}
    assert all(not c.calls or "ETER-2026" in c.calls for c in decision.candidates)
    assert decision.explanations[-len(decision.notes)] == (
        "appel détecté : Extensions territoriales 2026 (ETER-2026), ouvert, cité dans la question "
        "(« extensions territoriales »)")


def test_a_deadline_question_without_a_call_asks_which_call_instead_of_guessing(demo):
    _question, _version, decision, articles = services.decide(subject="Date limite", body=DEADLINE,
                                                               topic="calendrier", today=DAY)
    best = articles[decision.candidates[0].article_id]
    assert best.external_id == "cal-date-limite-depot" and decision.confidence >= 0.8
    assert decision.action == "human" and decision.call_choices == ["AAPG-2026", "JCJC-2026", "PRCE-2026"]


def test_the_same_question_naming_its_call_is_answered(demo):
    _question, _version, decision, articles = services.decide(
        subject="Date limite AAPG 2026", body="Quelle est la date limite pour déposer ma proposition à l'AAPG 2026 ?",
        topic="calendrier", today=DAY)
    assert decision.action == "auto_answered"
    assert articles[decision.article_id].external_id == "cal-date-limite-depot"
    assert decision.notes[0].startswith("appel détecté : Appel à projets générique 2026 (AAPG-2026), ouvert")


def test_a_project_of_a_closed_call_gets_no_answer_meant_for_the_current_call(demo):
    _question, _version, decision, _articles = services.decide(subject="Date limite", body=DEADLINE,
                                                                topic="calendrier", call="AAPG2025", today=DAY)
    assert decision.action == "human" and decision.call_choices == []
    assert decision.notes[0] == "appel détecté : Appel à projets générique 2025 (AAPG-2025), fermé, appel du projet lié"


def test_the_call_chosen_on_the_form_is_used_and_recorded(demo, make_ticket):
    with services.stated_call("AAPG-2026"):
        ticket = make_ticket(subject="Date limite", body=DEADLINE, topic="calendrier")
    decision = services.latest_decision(ticket)
    assert (decision.call_code, decision.call_source, decision.outcome) == ("AAPG-2026", "form", "auto_answered")
    assert services.try_question("Date limite", DEADLINE).action == "human"  # the block is over


def test_the_catalogue_holds_described_calls_and_the_calls_only_projects_name(demo):
    assert call_catalogue().get("ETER 2026").name == "Extensions territoriales 2026"
    db.session.add(Project(reference="ANR-26-XX01-0001", acronym="NOUV", title="Nouveau", call_code="FLASH2026",
                           call_name="Appel Flash 2026", call_year=2026, state="submission"))
    db.session.add(Call(code="ASTRID-2026", name="ASTRID 2026", acronyms=["ASTRID"], year=2026,
                        state=CallState.OPEN))
    db.session.flush()
    catalogue = call_catalogue()
    assert catalogue.get("FLASH-2026").label == "Appel Flash 2026 (FLASH2026)"
    assert catalogue.get("FLASH-2026").is_open_on(DAY) is None  # state and dates unknown
    assert detect_call("Le programme ASTRID finance-t-il les thèses ?", catalogue, today=DAY).code == "ASTRID-2026"
