"""Administrators' regular expressions run on RE2 (no backtracking); what RE2 refuses is refused when saved."""

from __future__ import annotations

import logging

import pytest

from expert import ruleset, services
from expert.models import RuleSetVersion
from expert.rules import Question, RuleError, evaluate, parse_rules, parse_stored_rules

CATASTROPHIC = "(a+)+$"  # Python's re takes ~5 s on 24 "a" and a "!", doubling with each "a"
BACKREFERENCE = r"(dossier) \1"


def _rule(pattern: str, code: str = "RX") -> dict:
    return {"code": code, "name": "Motif", "conditions": {"patterns": [pattern]}, "actions": {"require_human": True}}


def _yaml(pattern: str) -> str:
    return ("rules:\n- code: RX\n  name: Motif\n  conditions:\n    patterns:\n"
            f"    - '{pattern}'\n  actions: {{require_human: true}}\n")


def test_a_catastrophic_pattern_on_a_long_text_gives_the_right_answer():
    rule_set = parse_rules([_rule(CATASTROPHIC)])
    no_match = evaluate(rule_set, Question(subject="Objet", body="a" * 200_000 + "!"), threshold=0.8)
    assert no_match.hits == [] and no_match.require_human is False
    match = evaluate(rule_set, Question(subject="Objet", body="b " + "a" * 200_000), threshold=0.8)
    assert match.require_human is True
    assert match.hits[0].reasons[0].startswith("expression « (a+)+$ » reconnue (« aaaa")


def test_the_stored_rules_evaluate_a_long_public_request_without_backtracking(reference_data):
    ruleset.import_yaml(_yaml(CATASTROPHIC), by=None)
    decision = services.try_question("Mon dossier", "a" * 100_000 + "!")
    assert not any(hit.code == "RX" for hit in decision.hits)
    decision = services.try_question("Mon dossier", "x " + "a" * 100_000)
    assert [hit.code for hit in decision.hits] == ["RX"]


def test_the_pattern_is_folded_like_the_question_but_not_its_syntax():
    rule_set = parse_rules([_rule(r"Dépôt n° (?P<Numero>\d+)\D")])
    assert evaluate(rule_set, Question(subject="DEPOT n° 12 bis"), threshold=0.8).require_human is True
    assert evaluate(rule_set, Question(subject="Dépôt n° 12"), threshold=0.8).require_human is False  # \D is not \d


@pytest.mark.parametrize(("pattern", "reason"), [
    (BACKREFERENCE, "les références arrière (\\1, \\2…) ne sont pas acceptées"),
    ("(?P<mot>x)(?P=mot)", "références arrière nommées"),
    ("avenant(?=s)", "assertions avant (?=…)"),
    ("(?<!pas )urgent", "assertions arrière"),
    ("a{2000}", "répétition de plus de 1000 fois"),
    ("(projet", "parenthèse non fermée"),
])
def test_patterns_re2_refuses_are_refused_naming_the_rule_and_the_pattern(pattern, reason):
    with pytest.raises(RuleError) as refused:
        parse_rules([_rule(pattern, code="R7")])
    message = str(refused.value)
    assert message.startswith(f"règle R7 : expression « {pattern} » invalide : ")
    assert reason in message and "RE2" in message


def test_a_backreference_is_refused_by_the_yaml_import_and_nothing_is_saved(reference_data, count_rows):
    before = count_rows(RuleSetVersion)
    with pytest.raises(RuleError, match=r"règle RX : expression « \(dossier\) \\1 » invalide : les références"):
        ruleset.import_yaml(_yaml(BACKREFERENCE), by=None)
    assert count_rows(RuleSetVersion) == before


def test_a_backreference_is_refused_by_the_command_line(app, tmp_path, reference_data, count_rows):
    path = tmp_path / "rules.yaml"
    path.write_text(_yaml(BACKREFERENCE), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["expert", "rules", "import", str(path)])
    assert result.exit_code == 1
    assert "règle RX : expression « (dossier) \\1 » invalide : les références arrière" in result.output
    assert count_rows(RuleSetVersion) == 0


def test_a_backreference_is_refused_by_the_rule_page_and_the_yaml_page(client, make_user, login, reference_data,
                                                                       count_rows):
    login(make_user("admin"))
    page = client.post("/admin/expert/regles/nouvelle", data={
        "code": "R9", "name": "Doublon", "enabled": "y", "conditions-0-key": "patterns",
        "conditions-0-value": BACKREFERENCE, "require_human": "y"})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "expression « (dossier) \\1 » invalide" in text and "références arrière" in text
    yaml_page = client.post("/admin/expert/regles/yaml", data={"document": _yaml(BACKREFERENCE)})
    assert yaml_page.status_code == 422 and "règle RX : expression « (dossier) \\1 »" in yaml_page.get_data(
        as_text=True)
    assert count_rows(RuleSetVersion) == 0


def test_a_stored_rule_refused_now_is_left_out_of_evaluation_not_fatal(caplog):
    with caplog.at_level(logging.ERROR, logger="expert.rules"):
        rule_set = parse_stored_rules({"rules": [_rule(BACKREFERENCE, code="OLD"), _rule("dossier", code="NEW")]})
    assert [rule.code for rule in rule_set] == ["NEW"]
    assert "règle OLD : expression « (dossier) \\1 » invalide" in caplog.text
