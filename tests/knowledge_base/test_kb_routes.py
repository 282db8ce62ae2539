"""Public help pages, suggestions, sanitised Markdown and the staff editing pages."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from knowledge_base import services
from knowledge_base.models import Article, ArticleStatus

DEADLINE = {"question": "Quelle est la date limite pour déposer ma proposition ?",
            "answer": "Avant le **10 décembre 2026** à 13 h.\n\n- étape 1\n- étape 2",
            "phrasings": ["Jusqu'à quand peut-on soumettre un projet ?"], "topic": "calendrier",
            "status": "published"}
PORTAL = {"question": "Comment réinitialiser mon mot de passe ?", "answer": "Cliquez sur « Mot de passe oublié ».",
          "topic": "portail", "status": "published"}
FORM = {"question": "Comment ajouter un partenaire ?", "phrasings": "Ajouter un laboratoire\nNouveau partenaire",
        "answer": "Déposez une demande de modification.", "topic": "avenant", "calls": "AAPG-2026, jcjc-2026",
        "language": "fr", "valid_from": "", "valid_until": "", "comment": ""}


def test_help_lists_published_articles_by_topic(client):
    services.create_article(DEADLINE, None, external_id="deadline")
    services.create_article({**PORTAL, "status": "draft"}, None, external_id="draft")
    page = client.get("/aide").get_data(as_text=True)
    assert "Calendrier et dates limites" in page and DEADLINE["question"] in page
    assert PORTAL["question"] not in page


def test_help_search_and_article_page(client):
    services.create_article(DEADLINE, None, external_id="deadline")
    services.create_article(PORTAL, None, external_id="password")
    page = client.get("/aide", query_string={"q": "date limite de dépôt"}).get_data(as_text=True)
    assert "/aide/deadline" in page and "/aide/password" not in page
    article = client.get("/aide/deadline")
    assert article.status_code == 200
    assert "<strong>10 décembre 2026</strong>" in article.get_data(as_text=True)
    assert "<li>étape 1</li>" in article.get_data(as_text=True)
    assert client.get("/aide/inconnu").status_code == 404


def test_unsafe_markdown_never_reaches_the_page(client):
    answer = ("Texte <script>alert('x')</script> [lien](javascript:alert(1)) "
              "<img src=x onerror=alert(2)> <a href=\"https://ok.example\" onclick=\"steal()\">ok</a>")
    services.create_article({**DEADLINE, "answer": answer}, None, external_id="evil")
    page = client.get("/aide/evil").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "javascript:" not in page and "onerror" not in page and "onclick" not in page
    assert 'href="https://ok.example"' in page


def test_draft_article_is_hidden_from_public(client, make_user, login):
    services.create_article({**DEADLINE, "status": "draft"}, None, external_id="draft")
    assert client.get("/aide/draft").status_code == 404
    login(make_user("requester"))
    assert client.get("/aide/draft").status_code == 404


def test_staff_preview_a_draft(client, make_user, login):
    services.create_article({**DEADLINE, "status": "draft"}, None, external_id="draft")
    login(make_user("agent"))
    assert "Aperçu" in client.get("/aide/draft").get_data(as_text=True)


def test_suggestions_json(client):
    services.create_article(DEADLINE, None, external_id="deadline", )
    services.create_article(PORTAL, None, external_id="password")
    data = client.get("/aide/suggestions", query_string={"q": "date limite pour déposer mon projet"}).get_json()
    first = data["suggestions"][0]
    assert first["id"] == "deadline" and first["url"].endswith("/aide/deadline")
    assert first["title"] == DEADLINE["question"] and 0 <= first["confidence"] <= 1
    assert client.get("/aide/suggestions", query_string={"q": "da"}).get_json()["suggestions"] == []
    assert client.get("/aide/suggestions").get_json()["suggestions"] == []


def test_staff_pages_need_a_staff_role(client, make_user, login):
    assert client.get("/gestion/articles").status_code == 302  # to the login page
    login(make_user("requester"))
    assert client.get("/gestion/articles").status_code == 403
    assert client.post("/gestion/articles/nouveau", data=FORM).status_code == 403


def test_agent_proposes_a_draft_but_cannot_publish(client, make_user, login, count_rows):
    login(make_user("agent"))
    response = client.post("/gestion/articles/nouveau", data=FORM)
    assert response.status_code == 302
    article = db.session.scalar(sa.select(Article).where(Article.question == FORM["question"]))
    assert article.status == ArticleStatus.DRAFT
    assert article.phrasings == ["Ajouter un laboratoire", "Nouveau partenaire"]
    assert article.calls == ["AAPG-2026", "JCJC-2026"]
    assert client.post(f"/gestion/articles/{article.id}/publier").status_code == 403
    assert client.post(f"/gestion/articles/{article.id}/modifier",
                       data={**FORM, "answer": "Autre réponse."}).status_code == 302
    assert article.answer == "Autre réponse."
    published = services.create_article(DEADLINE, None)
    assert client.get(f"/gestion/articles/{published.id}/modifier").status_code == 403


def test_referent_edits_publishes_and_sees_the_diff(client, make_user, login):
    referent = login(make_user("referent"))
    article = services.create_article({**DEADLINE, "status": "draft"}, None)
    assert client.post(f"/gestion/articles/{article.id}/publier").status_code == 302
    assert article.status == ArticleStatus.PUBLISHED
    response = client.post(f"/gestion/articles/{article.id}/modifier",
                           data={**FORM, "question": DEADLINE["question"], "answer": "Avant le 11 décembre.",
                                 "comment": "Report de la clôture"})
    assert response.status_code == 302
    assert article.revision == 3 and article.updated_by == referent
    detail = client.get(f"/gestion/articles/{article.id}").get_data(as_text=True)
    assert "Report de la clôture" in detail and "Historique des versions" in detail
    diff = client.get(f"/gestion/articles/{article.id}/versions/3").get_data(as_text=True)
    assert "Avant le 11 décembre." in diff and "guichet-diff--removed" in diff
    assert client.post(f"/gestion/articles/{article.id}/versions/1/restaurer").status_code == 302
    assert article.answer == DEADLINE["answer"] and article.revision == 4
    assert client.post(f"/gestion/articles/{article.id}/archiver").status_code == 302
    assert article.status == ArticleStatus.ARCHIVED
    assert client.get(f"/aide/{article.external_id}").status_code == 200  # staff preview
    assert client.get(f"/gestion/articles/{article.id}/versions/99").status_code == 404


def test_staff_list_filters(client, make_user, login):
    login(make_user("manager"))
    services.create_article(DEADLINE, None, external_id="deadline")
    services.create_article({**PORTAL, "status": "draft"}, None, external_id="password")
    page = client.get("/gestion/articles", query_string={"statut": "draft"}).get_data(as_text=True)
    assert PORTAL["question"] in page and DEADLINE["question"] not in page
    page = client.get("/gestion/articles", query_string={"q": "date limite"}).get_data(as_text=True)
    assert DEADLINE["question"] in page and PORTAL["question"] not in page
    for wildcard in ("%", "_"):  # taken literally, not as LIKE wildcards
        page = client.get("/gestion/articles", query_string={"q": wildcard}).get_data(as_text=True)
        assert DEADLINE["question"] not in page and PORTAL["question"] not in page
