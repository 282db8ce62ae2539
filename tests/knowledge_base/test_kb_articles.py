"""Article life cycle: validation, revisions, publication, version counter."""

from __future__ import annotations

from datetime import date

import pytest

from knowledge_base import services
from knowledge_base.models import Article, ArticleRevision, ArticleStatus

CONTENT = {"question": "Quelle est la date limite de dépôt ?", "answer": "Le **10 décembre** à 13 h.",
           "phrasings": ["Jusqu'à quand déposer ?", "  jusqu'à quand déposer ?  ", ""], "topic": "calendrier",
           "calls": ["aapg-2026"]}


def test_create_article_is_a_draft_with_first_revision(make_user, count_rows):
    author = make_user("referent")
    article = services.create_article(CONTENT, author)
    assert article.status == ArticleStatus.DRAFT
    assert article.revision == 1
    assert article.phrasings == ["Jusqu'à quand déposer ?"]  # blanks and case-insensitive duplicates removed
    assert article.calls == ["AAPG-2026"]
    revision = article.revisions.one()
    assert (revision.number, revision.action, revision.author) == (1, "created", author)
    assert revision.answer == CONTENT["answer"]


@pytest.mark.parametrize("change, message", [
    ({"question": "  "}, "question est obligatoire"),
    ({"answer": ""}, "réponse est obligatoire"),
    ({"topic": "Mauvais Thème"}, "Thème"),
    ({"calls": ["AAPG 2026!"]}, "Code d'appel invalide"),
    ({"language": "de"}, "Langue"),
    ({"valid_from": "2026-05-01", "valid_until": "2026-04-01"}, "fin de validité"),
    ({"valid_until": "31/12/2026"}, "AAAA-MM-JJ"),
    ({"status": "deleted"}, "Statut"),
])
def test_invalid_content_is_refused(change, message):
    with pytest.raises(services.ArticleError, match=message):
        services.create_article({**CONTENT, **change}, None)


def test_update_keeps_every_revision_and_skips_no_op(make_user):
    author, editor = make_user("agent"), make_user("referent")
    article = services.create_article(CONTENT, author)
    assert services.update_article(article, {"answer": "Le 11 décembre."}, editor, comment="date corrigée")
    assert not services.update_article(article, {"answer": "Le 11 décembre."}, editor)
    revisions = article.revisions.all()
    assert [r.number for r in revisions] == [2, 1]
    assert revisions[0].answer == "Le 11 décembre." and revisions[0].comment == "date corrigée"
    assert revisions[1].answer == CONTENT["answer"]
    assert article.updated_by == editor


def test_publish_archive_and_restore(make_user):
    editor = make_user("manager")
    article = services.create_article(CONTENT, editor)
    services.publish_article(article, editor)
    assert article.status == ArticleStatus.PUBLISHED and article.published_at is not None
    with pytest.raises(services.ArticleError):
        services.publish_article(article, editor)
    services.update_article(article, {"answer": "Nouvelle réponse."}, editor)
    first = article.revisions.filter(ArticleRevision.number == 1).one()
    assert services.restore_revision(article, first, editor)
    assert article.answer == CONTENT["answer"]
    assert article.status == ArticleStatus.PUBLISHED  # restoring content does not unpublish
    services.archive_article(article, editor)
    assert article.status == ArticleStatus.ARCHIVED
    assert [r.action for r in article.revisions] == ["archived", "restored", "updated", "published", "created"]


def test_every_change_bumps_the_version():
    before, _token = services.current_kb_version()
    article = services.create_article(CONTENT, None)
    services.publish_article(article, None)
    after, token = services.current_kb_version()
    assert after == before + 2 and token


def test_external_id_is_unique_and_checked():
    services.create_article(CONTENT, None, external_id="cal-1")
    with pytest.raises(services.ArticleError, match="déjà"):
        services.create_article(CONTENT, None, external_id="cal-1")
    with pytest.raises(services.ArticleError, match="Identifiant"):
        services.create_article(CONTENT, None, external_id="avec espace")


def test_validity_and_call_rules():
    article = Article(status=ArticleStatus.PUBLISHED, valid_from=date(2026, 1, 1), valid_until=date(2026, 6, 30),
                      calls=["AAPG-2026"])
    assert article.is_offered_on(date(2026, 6, 30))
    assert not article.is_offered_on(date(2026, 7, 1))
    assert not article.is_offered_on(date(2025, 12, 31))
    assert article.applies_to_call("AAPG-2026") and article.applies_to_call(None)
    assert not article.applies_to_call("JCJC-2026")


def test_permissions(make_user):
    agent, referent, requester = make_user("agent"), make_user("referent"), make_user("requester")
    draft = Article(status=ArticleStatus.DRAFT)
    published = Article(status=ArticleStatus.PUBLISHED)
    assert services.can_edit_article(agent, draft) and not services.can_edit_article(agent, published)
    assert services.can_edit_article(referent, published)
    assert not services.can_propose_articles(requester)
    assert not services.can_edit_articles(agent)


def test_revision_changes_lists_changed_fields_only():
    changes = services.revision_changes({"question": "Q", "answer": "a\nb", "phrasings": ["x"]},
                                        {"question": "Q", "answer": "a\nc", "phrasings": ["x"]})
    assert [c["field"] for c in changes] == ["answer"]
    assert ("-", "b") in changes[0]["lines"] and ("+", "c") in changes[0]["lines"]
