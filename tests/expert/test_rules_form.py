"""The rules editor as a form (issue 13): rows of conditions, an action per field, the engine's own checks."""

from __future__ import annotations

import io

from crm.core.extensions import db
from expert import ruleset, services
from expert.forms import FORM_ACTIONS, RuleForm
from expert.models import RuleSetVersion
from expert.rules import ACTIONS

RULE = {"code": "R9", "name": "Prolongations", "enabled": "y", "position": "",
        "conditions-0-key": "keywords", "conditions-0-value": "prolongation\r\nreport de la date de fin",
        "conditions-1-key": "confidence_lt", "conditions-1-value": "0,9",
        "conditions-2-key": "", "conditions-2-value": "",
        "route_to_group": "referents-amendements", "set_priority": "high", "auto_answer": "", "set_topic": ""}


def test_the_form_knows_every_action_of_the_engine():
    assert set(FORM_ACTIONS) == set(ACTIONS)
    assert set(RuleForm.__dict__) >= set(FORM_ACTIONS)


def test_a_rule_made_with_the_form_is_applied_by_the_engine(app, client, make_user, login, reference_data,
                                                            count_rows):
    login(make_user("admin"))
    page = client.get("/admin/expert/regles/nouvelle").get_data(as_text=True)
    assert 'name="conditions-2-key"' in page and 'name="conditions-3-key"' not in page  # three empty rows
    assert 'formaction="/admin/expert/regles/nouvelle#condition-4"' in page  # back at the row it adds
    assert "Référents conventionnement et avenants" in page and "Confiance du meilleur article ≥" in page
    assert "<dt><code>lab_director</code></dt><dd>Directeur de laboratoire (RNSR)</dd>" in page  # accepted values
    more = client.post("/admin/expert/regles/nouvelle", data={**RULE, "add_row": "Ajouter une ligne"})
    assert more.status_code == 200 and 'name="conditions-3-key"' in more.get_data(as_text=True)
    assert 'fr-error-text' not in more.get_data(as_text=True) and count_rows(RuleSetVersion) == 0

    assert client.post("/admin/expert/regles/nouvelle", data=RULE).status_code == 302
    db.session.expire_all()
    rule = ruleset.stored_rules()[-1]
    assert (rule.code, rule.conditions) == ("R9", {"keywords": ["prolongation", "report de la date de fin"],
                                                   "confidence_lt": 0.9})
    assert rule.actions == {"route_to_group": "referents-amendements", "set_priority": "high"}
    decision = services.try_question("Demande de prolongation de notre projet")
    assert decision.rules_matched == ["R9"] and decision.route_to == "referents-amendements"
    assert decision.priority == "high"
    listed = client.get("/admin/expert/regles").get_data(as_text=True)
    assert "Confiance du meilleur article < : 0,9" in listed and "Fixer la priorité : Haute" in listed

    edit = client.get("/admin/expert/regles/R9/modifier").get_data(as_text=True)
    assert "prolongation\nreport de la date de fin</textarea>" in edit and "\n0,9</textarea>" in edit
    first = client.post("/admin/expert/regles/R9/modifier", data={**RULE, "name": "Avenants", "position": "1",
                                                                  "require_human": "y"})
    assert first.status_code == 302 and count_rows(RuleSetVersion) == 2
    db.session.expire_all()
    assert ruleset.stored_rules()[0].to_dict()["actions"]["require_human"] is True

    assert client.post("/langue", data={"lang": "en", "next": "/"}).status_code == 302
    with app.app_context():  # its own context: the test's keeps the first request's locale in `g`
        english = client.get("/admin/expert/regles/R9/modifier").get_data(as_text=True)
    assert "\n0.9</textarea>" in english and "Route to the queue or référent group" in english
    assert "Add a row" in english and "Ajouter une ligne" not in english


def test_a_bad_value_is_a_field_error_deletion_is_confirmed_and_agents_are_refused(client, make_user, login,
                                                                                     reference_data, count_rows):
    admin = make_user("admin")
    ruleset.save_rule(None, {"code": "R1", "name": "Tout", "actions": {"require_human": True}}, by=admin)
    login(admin)
    bad = client.post("/admin/expert/regles/nouvelle", data={
        **RULE, "conditions-1-value": "2", "conditions-2-key": "topic", "route_to_group": "inconnue"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and count_rows(RuleSetVersion) == 1
    assert 'id="conditions-1-value-error" class="fr-error-text">un nombre entre 0 et 1 est attendu' in text
    assert 'id="conditions-2-value-error" class="fr-error-text">une valeur ou une liste non vide' in text
    assert 'id="route_to_group-error"' in text and 'href="#conditions-1-value"' in text
    forged = client.post("/admin/expert/regles/nouvelle", data={**RULE, "conditions-0-key": "colour"})
    assert forged.status_code == 422 and 'id="conditions-0-key-error"' in forged.get_data(as_text=True)
    twice = client.post("/admin/expert/regles/nouvelle", data={**RULE, "conditions-1-key": "keywords"})
    assert twice.status_code == 422 and "Cette condition figure déjà plus haut" in twice.get_data(as_text=True)
    nothing = client.post("/admin/expert/regles/nouvelle", data={**RULE, "route_to_group": "", "set_priority": ""})
    assert nothing.status_code == 422 and "Choisissez au moins une action." in nothing.get_data(as_text=True)
    taken = client.post("/admin/expert/regles/nouvelle", data={**RULE, "code": "R1"})
    assert taken.status_code == 422 and 'id="code-error"' in taken.get_data(as_text=True)
    assert count_rows(RuleSetVersion) == 1

    exported = client.get("/admin/expert/regles/export.yaml")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    document = exported.get_data(as_text=True)
    assert "code: R1" in document
    latin1 = client.post("/admin/expert/regles/yaml", data={"file": (io.BytesIO(b"\xe9t\xe9"), "r.yaml")})
    assert latin1.status_code == 422 and "encodé en UTF-8" in latin1.get_data(as_text=True)
    empty = client.post("/admin/expert/regles/yaml", data={"document": " "})
    assert empty.status_code == 422 and "Saisissez les règles ou importez un fichier." in empty.get_data(as_text=True)
    renamed = document.replace("name: Tout", "name: Toutes les demandes").encode()
    imported = client.post("/admin/expert/regles/yaml", data={"document": "", "file": (io.BytesIO(renamed), "r.yaml")})
    assert imported.status_code == 302 and count_rows(RuleSetVersion) == 2
    db.session.expire_all()
    assert ruleset.stored_rules()[0].name == "Toutes les demandes"

    asked = client.post("/admin/expert/regles/R1/supprimer")
    assert asked.status_code == 200 and "Confirmer la suppression" in asked.get_data(as_text=True)
    assert [r.code for r in ruleset.stored_rules()] == ["R1"]
    assert client.post("/admin/expert/regles/R1/supprimer", data={"confirmer": "1"}).status_code == 302
    assert ruleset.stored_rules() == [] and count_rows(RuleSetVersion) == 3

    client.post("/deconnexion")
    login(make_user("agent"))
    assert client.get("/admin/expert/regles/nouvelle").status_code == 403
    assert client.post("/admin/expert/regles/nouvelle", data=RULE).status_code == 403
    assert client.post("/admin/expert/regles/R1/supprimer", data={"confirmer": "1"}).status_code == 403
    assert client.get("/admin/expert/regles/export.yaml").status_code == 403
    assert count_rows(RuleSetVersion) == 3
