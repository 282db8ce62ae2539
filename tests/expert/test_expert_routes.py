"""Expert pages: rules admin, « try it », référents, the requester's two buttons, stats, ticket panel."""

from __future__ import annotations

import html
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from test_expert_triage import AMENDMENT, DEADLINE, create_articles

from crm.core.extensions import db
from expert import RULES_FILE, conversations, ruleset, services
from expert.models import ConversationStatus, Outcome, ReferentProfile, RuleSetVersion
from tickets import triage
from tickets.models import Status


@pytest.fixture
def demo_rules(reference_data):
    return ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)


@pytest.fixture
def kb():
    return create_articles()


@pytest.fixture
def admin(make_user, login):
    return login(make_user("admin"))


def test_rules_pages_need_an_administrator(client, make_user, login, demo_rules):
    assert client.get("/admin/expert/regles").status_code == 302  # to the login page
    login(make_user("agent"))
    assert client.get("/admin/expert/regles").status_code == 403
    assert client.post("/admin/expert/regles/R1/supprimer").status_code == 403
    assert client.get("/admin/expert/essai").status_code == 403


def test_rules_list_and_operations_create_versions(client, admin, demo_rules, count_rows):
    page = client.get("/admin/expert/regles").get_data(as_text=True)
    assert "R3 — Avenants et modifications du projet" in page
    assert "Orienter vers le groupe (file) : Référents conventionnement et avenants" in page  # labels, not YAML
    assert "Un des mots-clés : <code>prolongation</code>, <code>avenant</code>" in page
    response = client.post("/admin/expert/regles/R3/monter")
    assert response.status_code == 302
    assert [r.code for r in ruleset.stored_rules()][:3] == ["R1", "R3", "R2"]
    client.post("/admin/expert/regles/R2/desactiver")
    assert count_rows(RuleSetVersion) == 3
    history = client.get("/admin/expert/regles/historique").get_data(as_text=True)
    assert "Désactivation de la règle R2" in history
    asked = client.post("/admin/expert/regles/R2/supprimer")  # a deletion is confirmed first: nothing yet
    assert asked.status_code == 200 and "Confirmer la suppression" in asked.get_data(as_text=True)
    assert count_rows(RuleSetVersion) == 3
    assert client.post("/admin/expert/regles/R2/supprimer", data={"confirmer": "1"}).status_code == 302
    assert "R2" not in [r.code for r in ruleset.stored_rules()] and count_rows(RuleSetVersion) == 4
    assert client.post("/admin/expert/regles/R99/supprimer").status_code == 404
    assert client.post("/admin/expert/regles/R3/exploser").status_code == 404


def test_rule_form_edits_one_rule_and_reports_errors(client, admin, demo_rules):
    form = client.get("/admin/expert/regles/R3/modifier").get_data(as_text=True)
    assert '<option selected value="referents-amendements">' in form
    fields = {"code": "R3", "name": "Avenants", "conditions-0-key": "keywords", "conditions-0-value": "avenant",
              "route_to_group": "referents-amendements"}
    bad = client.post("/admin/expert/regles/R3/modifier", data={
        **fields, "conditions-1-key": "profile", "conditions-1-value": "martian"})
    assert bad.status_code == 422
    assert "valeur inconnue « martian »" in bad.get_data(as_text=True)
    good = client.post("/admin/expert/regles/R3/modifier", data={**fields, "enabled": "y", "stop": "y"})
    assert good.status_code == 302
    rule = next(r for r in ruleset.stored_rules() if r.code == "R3")
    assert (rule.name, rule.conditions, rule.version) == ("Avenants", {"keywords": "avenant"}, 2)
    created = client.post("/admin/expert/regles/nouvelle", data={
        "code": "R9", "name": "Portail", "enabled": "y", "conditions-0-key": "topic", "conditions-0-value": "portail",
        "set_priority": "low"})
    assert created.status_code == 302
    assert ruleset.stored_rules()[-1].code == "R9"


def test_yaml_edit_replaces_the_rule_set(client, admin, demo_rules):
    page = client.get("/admin/expert/regles/yaml").get_data(as_text=True)
    assert "code: R1" in page
    bad = client.post("/admin/expert/regles/yaml", data={"document": "rules:\n- name: x\n  actions: {}\n"})
    assert bad.status_code == 422 and "au moins une action" in bad.get_data(as_text=True)
    ok = client.post("/admin/expert/regles/yaml", data={
        "document": "rules:\n- code: A\n  name: Tout\n  actions: {require_human: true}\n", "comment": "Simplifié"})
    assert ok.status_code == 302
    assert [r.code for r in ruleset.stored_rules()] == ["A"]
    assert ruleset.latest_version().comment == "Simplifié"
    restored = client.post(f"/admin/expert/regles/historique/{demo_rules.number}/restaurer")
    assert restored.status_code == 302
    assert len(ruleset.stored_rules()) == len(demo_rules.rules)


def test_try_page_shows_rules_candidates_and_action_without_creating_a_ticket(client, admin, kb, demo_rules,
                                                                              count_rows):
    from tickets.models import Ticket

    page = client.get("/admin/expert/essai", query_string={**AMENDMENT, "topic": "depot"}).get_data(as_text=True)
    assert "Orientation vers Référents conventionnement et avenants" in page
    assert "règle R3 « Avenants et modifications du projet » : mot-clé « prolongation » trouvé" in page
    assert "Comment demander un avenant à la convention ?" in page
    auto = client.get("/admin/expert/essai", query_string=DEADLINE).get_data(as_text=True)
    assert "Réponse automatique" in auto
    assert count_rows(Ticket) == 0


def test_requester_confirms_the_automatic_answer(client, kb, demo_rules, make_ticket):
    ticket = make_ticket(**DEADLINE)
    client.get(f"/demandes/{ticket.reference}", query_string={"cle": ticket.access_key})
    page = client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Cela répond à ma question</button>" in page and "J'ai besoin d'un conseiller</button>" in page
    response = client.post(f"/demandes/{ticket.reference}/reponse-automatique/resolue")
    assert response.status_code == 302
    assert ticket.status == Status.RESOLVED
    assert services.latest_decision(ticket).outcome == Outcome.DEFLECTED
    assert 'id="reponse-automatique"' not in client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)


def test_logged_in_requester_asks_for_an_advisor(client, kb, demo_rules, make_ticket, make_user, login):
    owner = login(make_user("requester"))
    ticket = make_ticket(requester=owner, requester_email=owner.email, **DEADLINE)
    created = ticket.created_at
    response = client.post(f"/demandes/{ticket.reference}/reponse-automatique/conseiller")
    assert response.status_code == 302
    assert ticket.status == Status.OPEN
    assert ticket.created_at == created
    assert services.latest_decision(ticket).outcome == Outcome.ESCALATED
    again = client.post(f"/demandes/{ticket.reference}/reponse-automatique/conseiller", follow_redirects=True)
    assert "n&#39;attend plus de réponse" in again.get_data(as_text=True)


def test_without_the_key_or_ownership_nobody_answers(client, kb, demo_rules, make_ticket, make_user, login):
    ticket = make_ticket(**DEADLINE)
    assert ticket.status == Status.AUTO_ANSWERED
    reference = ticket.reference
    assert client.post(f"/demandes/{reference}/reponse-automatique/resolue").status_code == 404
    login(make_user("requester"))
    assert client.post(f"/demandes/{reference}/reponse-automatique/conseiller").status_code == 404


def test_agent_ticket_panel_shows_the_decision_and_insertable_articles(client, kb, demo_rules, make_ticket,
                                                                       make_user, login):
    ticket = make_ticket(topic="depot", **AMENDMENT)
    login(make_user("agent"))
    page = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Tri automatique" in page
    assert "règle R3 « Avenants et modifications du projet »" in page
    assert "Comment demander un avenant à la convention ?" in page
    assert 'class="fr-btn fr-btn--secondary fr-btn--sm guichet-insert-answer"' in page
    assert "Depuis l&#39;espace projet, rubrique Demandes de modification." in page


def test_stats_page_shows_rates_and_grouped_gaps(client, kb, demo_rules, make_ticket, make_user, login):
    auto = make_ticket(**DEADLINE)
    triage.confirm_answer(auto, by=None)
    escalated = make_ticket(**DEADLINE)
    triage.ask_advisor(escalated, by=None)
    for body in ("Quel temps fera-t-il à Brest pour le colloque ?", "Le colloque de Brest aura-t-il lieu ?",
                 "Comment réserver un hôtel pour le colloque de Brest ?"):
        make_ticket(subject="Colloque", body=body)
    resolved, _key = conversations.start_conversation(user=None)
    resolved.status = ConversationStatus.RESOLVED  # the assistant's answer was enough: no request
    conversations.start_conversation(user=None)
    assert client.get("/responsable/expert").status_code == 302
    login(make_user("manager"))
    page = client.get("/responsable/expert").get_data(as_text=True)
    assert "5 demande(s) triée(s)" in page
    assert "40\xa0%" in page  # 2 automatic answers out of 5
    assert "50\xa0%" in page  # 1 of 2 confirmed, 1 of 2 escalated
    gaps = page[page.find('id="lacunes"'):]
    assert "Questions similaires : brest, colloque" in gaps  # at least the two questions no article is near
    assert gaps.count("colloque de Brest") + gaps.count("Brest pour le colloque") == 3
    assert client.get("/responsable/expert", query_string={"du": "2026-05-02", "au": "2026-01-01"}).status_code == 422

    # Over time: the last week holds the five decisions, its rates are the period's; the chart has the same figures.
    series = page[page.index('id="serie-expert"'):page.index('id="lacunes"')]
    last = re.findall(r"<tr><th scope=\"row\">[^<]+</th><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>",
                      series)[-1]
    assert last == ("5", "40\xa0%", "50\xa0%", "50\xa0%")
    assert "(1 sur 2)" in series  # the assistant's conversations resolved without a request
    chart = re.search(r"<line-chart x='([^']*)' y='([^']*)'", page)
    assert [values[-1] for values in json.loads(chart.group(2))] == [40.0, 50.0, 50.0, 50.0]
    # Each gap links to its requests, and offers an article pre-filled with its questions.
    assert re.search(r'<a href="/agent/demandes/DEM-\d{4}-\d{6}" class="fr-text--bold">', gaps)
    write = html.unescape(re.search(r'href="(/gestion/articles/nouveau\?[^"]+)"', gaps).group(1))
    form = client.get(write).get_data(as_text=True)
    question = parse_qs(urlsplit(write).query)["question"][0]
    assert "Brest" in question and html.escape(question, quote=True) in form
    assert "Brest" in form[form.index('name="phrasings"'):form.index("</textarea>")]
    # Every table exported over the same period.
    rows = list(load_workbook(io.BytesIO(client.get("/responsable/expert/evolution.xlsx").data)).active
                .iter_rows(values_only=True))
    assert rows[0][2] == "Demandes triées" and rows[-1][2:] == (5, 2, 0.4, 0.5, 0.5, 2, 1, 0.5)
    gaps_csv = client.get("/responsable/expert/lacunes.csv").data.decode("utf-8-sig").splitlines()
    assert gaps_csv[0] == "Groupe;Questions du groupe;Demande;Question" and len(gaps_csv) >= 4
    assert client.get("/responsable/expert/issues.csv", query_string={"du": "x"}).status_code == 422


def test_referent_profiles_page_and_self_service(client, make_user, login, reference_data):
    referent = make_user("referent")
    other = make_user("referent")
    queue = reference_data["queues"]["referents-finances"]
    login(make_user("manager"))
    assert referent.name in client.get("/expert/referents").get_data(as_text=True)
    response = client.post(f"/expert/referents/{referent.id}", data={
        "group": queue.id, "topics": "versements, Financement", "calls": "aapg2025", "available": "y",
        "max_load": "5"})
    assert response.status_code == 302
    profile = db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == referent.id))
    assert (profile.group, profile.topics, profile.calls, profile.max_load) == (
        queue, ["financement", "versements"], ["AAPG2025"], 5)
    client.post("/deconnexion")
    login(referent)
    assert client.post(f"/expert/referents/{referent.id}", data={"group": queue.id, "max_load": "5"}).status_code == 302
    assert profile.available is False
    assert client.get(f"/expert/referents/{other.id}").status_code == 403
    assert client.get("/expert/referents").status_code == 403


def test_request_form_includes_the_suggestions_script(client, reference_data):
    page = client.get("/demande").get_data(as_text=True)
    assert 'id="suggestions-articles"' in page
    assert 'data-url="/aide/suggestions"' in page
    assert 'aria-live="polite"' in page


def test_gaps_are_grouped_by_weak_article_then_by_similarity():
    from expert.queries import group_gaps

    near = [{"article_id": 7, "title": "Quand le solde est-il versé ?", "confidence": 0.6}]
    far = [{"article_id": 7, "title": "Quand le solde est-il versé ?", "confidence": 0.1}]
    gaps = group_gaps([
        ("DEM-1", "Solde\nLe solde n'est toujours pas versé", near),
        ("DEM-2", "Versement\nQuand recevrons-nous le solde ?", near),
        ("DEM-3", "Colloque\nLe colloque de Brest aura-t-il lieu ?", far),
        ("DEM-4", "Colloque\nQuel temps fera-t-il à Brest pour le colloque ?", []),
        ("DEM-5", "Parking\nOù se garer près du siège ?", []),
    ])
    assert [(g.kind, g.label, [r for r, _q in g.questions]) for g in gaps] == [
        ("article", "Quand le solde est-il versé ?", ["DEM-1", "DEM-2"]),
        ("similar", "brest, colloque, aura, fera", ["DEM-3", "DEM-4"]),
        ("similar", "garer, parking, pres, siege", ["DEM-5"]),
    ]


@pytest.mark.parametrize(("document", "expected"), [
    ("rules:\n- code: A\n  name: x: y\n", "YAML invalide à la ligne 3, colonne 10 : un deux-points en trop"),
    ("rules:\n- code: A\n  name: \"x\n", "YAML invalide à la ligne 3, colonne 9 : un guillemet ouvert n&#39;est"),
    ("rules:\n\t- code: A\n", "YAML invalide à la ligne 2, colonne 1 : une tabulation : indentez avec des espaces"),
])
def test_yaml_syntax_errors_are_told_in_french_with_line_and_column(client, admin, demo_rules, document, expected):
    page = client.post("/admin/expert/regles/yaml", data={"document": document})
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and expected in text
    assert "mapping values" not in text and "scanning" not in text and "unicode string" not in text


def test_an_automatic_answer_is_rendered_with_the_link_to_its_article(client, kb, demo_rules, make_ticket, make_user,
                                                                        login):
    from notifications.models import OutboxMessage

    ticket = make_ticket(**DEADLINE)
    assert ticket.status == Status.AUTO_ANSWERED
    for url in (f"/demandes/{ticket.reference}?cle={ticket.access_key}", None):
        page = client.get(url or f"/agent/demandes/{ticket.reference}", follow_redirects=True).get_data(as_text=True)
        assert "<strong>13 h</strong>, heure de Paris" in page and "**13 h**" not in page
        assert 'href="/aide/kb-date-limite"' in page and "Lire l’article « Quelle est la date limite" in page
        login(make_user("agent"))
    mail = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "auto_answer"))
    assert "/aide/kb-date-limite" in mail.body_text and "/aide/kb-date-limite" in mail.body_html
