"""The index service: rebuilt when the version changes, validity filtering, never blocking searches."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from knowledge_base import index as kb_index
from knowledge_base import services
from knowledge_base.index import IndexService, search_articles
from knowledge_base.matcher import Entry

DEADLINE = {"question": "Quelle est la date limite pour déposer ma proposition ?",
            "answer": "Les pré-propositions sont attendues avant le 10 décembre à 13 h.",
            "phrasings": ["Jusqu'à quand peut-on soumettre un projet ?", "Date de clôture de l'appel"],
            "topic": "calendrier", "status": "published"}
PORTAL = {"question": "Comment réinitialiser mon mot de passe du portail ?",
          "answer": "Cliquez sur « Mot de passe oublié » sur la page de connexion.", "topic": "portail",
          "status": "published"}


def _ids(results):
    return [article.external_id for article, _match in results]


def test_published_article_is_found_and_changes_are_seen(app):
    article = services.create_article(DEADLINE, None, external_id="cal-deadline")
    results = search_articles("date limite pour déposer ma proposition")
    assert _ids(results)[:1] == ["cal-deadline"]
    assert 0.0 <= results[0][1].confidence <= 1.0
    services.create_article(PORTAL, None, external_id="portal-password")
    assert _ids(search_articles("mot de passe oublié portail"))[:1] == ["portal-password"]
    services.archive_article(article, None)
    assert "cal-deadline" not in _ids(search_articles("date limite pour déposer ma proposition"))
    snapshot = kb_index.index_service(app).snapshot
    assert snapshot.version == services.current_kb_version()[0]
    assert "cal-deadline" not in {e.id for e in snapshot.index.entries}


def test_drafts_and_expired_or_future_articles_are_not_offered():
    today = kb_index.today()
    services.create_article({**DEADLINE, "status": "draft"}, None, external_id="draft")
    services.create_article({**DEADLINE, "valid_until": today - timedelta(days=1)}, None, external_id="expired")
    services.create_article({**DEADLINE, "valid_from": today + timedelta(days=1)}, None, external_id="future")
    services.create_article({**DEADLINE, "valid_until": today}, None, external_id="last-day")
    assert _ids(search_articles("date limite pour déposer", k=10)) == ["last-day"]
    assert {e.id for e in kb_index.get_index().entries} == {"last-day"}


def test_filters_on_call_topic_and_language():
    services.create_article({**DEADLINE, "calls": ["AAPG-2026"]}, None, external_id="aapg")
    services.create_article({**DEADLINE, "calls": ["JCJC-2026"], "answer": "Pour le JCJC : le 10 décembre."}, None,
                            external_id="jcjc")
    services.create_article({**DEADLINE, "answer": "Consultez le texte de chaque appel."}, None,
                            external_id="all-calls")
    services.create_article({**DEADLINE, "language": "en", "answer": "Proposals are due on 10 December."}, None,
                            external_id="english")
    services.create_article(PORTAL, None, external_id="portal")
    query = "date limite pour déposer"
    assert set(_ids(search_articles(query, k=10, call="AAPG-2026"))) == {"aapg", "all-calls"}
    assert set(_ids(search_articles(query, k=10, language="en"))) == {"english"}
    assert set(_ids(search_articles(query, k=10, topic="portail"))) == set()
    assert len(search_articles(query, k=2, language=None)) == 2
    assert search_articles("   ") == []


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _entries(*ids):
    return [Entry(id=i, question=f"question {i}", answer=f"réponse {i}") for i in ids]


def test_version_is_checked_at_most_every_refresh_period(app):
    clock = _Clock()
    loads = []

    def loader(day):
        loads.append(day)
        return kb_index._current_key(), _entries(f"v{len(loads)}")

    service = IndexService(app, background=False, refresh_seconds=60, loader=loader, clock=clock)
    assert [e.id for e in service.get().entries] == ["v1"]
    services.bump_kb_version()  # as if another worker changed the base ...
    from crm.core.extensions import db

    db.session.info.pop("kb_changed")  # ... so this session did not
    clock.now += 30
    assert [e.id for e in service.get().entries] == ["v1"]  # not checked yet
    clock.now += 31
    assert [e.id for e in service.get().entries] == ["v2"]  # checked, rebuilt
    assert service.get() is service.get() and len(loads) == 2  # unchanged version: no rebuild


def test_old_index_keeps_answering_while_a_rebuild_runs(app):
    started, release = threading.Event(), threading.Event()
    calls = {"n": 0}
    keys = {}

    def loader(day):
        calls["n"] += 1
        if calls["n"] == 1:
            return kb_index._current_key(), _entries("ancien")
        started.set()
        assert release.wait(10)
        return keys["new"], _entries("nouveau")

    service = IndexService(app, background=True, refresh_seconds=0, loader=loader)
    old = service.get()
    services.bump_kb_version()
    keys["new"] = kb_index._current_key()
    try:
        assert service.get() is old  # starts the rebuild and returns at once
        assert started.wait(10)
        assert service.get() is old  # the rebuild is blocked: searches still use the old index
        assert service.get().search("question ancien", k=1)[0].id == "ancien"
    finally:
        release.set()
    assert service.wait(10)
    assert [e.id for e in service.get().entries] == ["nouveau"]
    assert calls["n"] == 2  # no second rebuild for the same version


def test_failed_rebuild_keeps_the_old_index(app, caplog):
    calls = {"n": 0}

    def loader(day):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("database down")
        return kb_index._current_key(), _entries("ancien")

    service = IndexService(app, background=True, refresh_seconds=0, loader=loader)
    old = service.get()
    services.bump_kb_version()
    assert service.get() is old
    assert service.wait(10)
    assert service.get() is old
    assert "rebuild failed" in caplog.text


@pytest.mark.committed
def test_background_rebuild_reads_committed_articles(app):
    from crm.core.extensions import db

    service = IndexService(app, background=True, refresh_seconds=0)
    assert len(service.get()) == 0
    services.create_article(DEADLINE, None, external_id="committed")
    db.session.commit()
    service.get()
    assert service.wait(10)
    assert [e.id for e in service.get().entries] == ["committed"]


def test_demo_calibration_is_applied(app):
    from knowledge_base.demo import seed

    seed({})
    snapshot = kb_index.refresh_index()
    assert len(snapshot.index) >= 60
    assert snapshot.index.calibration is not None and snapshot.index.calibration.n_samples >= 100
    best = search_articles("Quelle est la date limite pour déposer ma proposition ?", k=1)
    assert _ids(best) == ["cal-date-limite-depot"]
    assert best[0][1].confidence >= app.config["KB_AUTO_ANSWER_CONFIDENCE"]
