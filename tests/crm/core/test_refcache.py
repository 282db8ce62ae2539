"""Reference data cached per process: an edit made on one instance takes effect on another after the delay.

Two application instances share the database, as two gunicorn workers or two servers would. The second one keeps
its copy of topics, SLA policies, rules, référents and the knowledge-base version until REFERENCE_REFRESH_SECONDS
have passed since it last compared the versions (pushed back here instead of waiting), then sees the edit.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm import create_app
from crm.core import refcache
from crm.core.extensions import db
from tests.conftest import _config

pytestmark = pytest.mark.committed


@pytest.fixture
def second(app, tmp_path_factory):
    """Another instance on the same database, comparing versions at most once a minute."""
    config = _config(tmp_path_factory)
    config["SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"]
    config["REFERENCE_REFRESH_SECONDS"] = 60.0
    config["KB_REFRESH_SECONDS"] = 0.0
    other = create_app(config)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _statements(app, read):
    """Run ``read`` in a request context of ``app``; return its result and the SQL statements it issued."""
    statements: list[str] = []

    def on_statement(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.test_request_context():
        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", on_statement)
        try:
            result = read()
        finally:
            sa.event.remove(engine, "before_cursor_execute", on_statement)
            db.session.remove()
    return result, statements


def _delay_passes(app) -> None:
    """As if REFERENCE_REFRESH_SECONDS had passed on that instance since its last comparison."""
    refcache._state(app).checked_at = float("-inf")


def _edit(app, change) -> None:
    with app.app_context():
        change()
        db.session.commit()
        db.session.remove()


def test_an_edited_topic_policy_and_rule_set_reach_the_other_instance_after_the_delay(app, second, make_user):
    from expert import RULES_FILE, ruleset
    from tickets import reference, services
    from tickets.demo import seed_reference_data
    from tickets.models import SlaPolicy, Topic

    _edit(app, lambda: (seed_reference_data(), ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)))

    def read():
        policy = next(p for p in reference.active_policies() if p.name == "Standard")
        return (services.topic_with_slug("depot").label, policy.first_response_minutes,
                ruleset.compiled_rules()[0])

    label, minutes, version = _statements(second, read)[0]
    assert label != "Dépôt des dossiers (modifié)"

    def change():
        db.session.scalar(sa.select(Topic).where(Topic.slug == "depot")).label = "Dépôt des dossiers (modifié)"
        db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.name == "Standard")).first_response_minutes += 60
        first_rule = ruleset.rule_dicts()[0]["code"]
        assert ruleset.set_rule_enabled(first_rule, False, by=None) is not None

    _edit(app, change)
    # within the delay: the other instance answers from its copy, without a single statement
    result, statements = _statements(second, read)
    assert result == (label, minutes, version)
    assert [s for s in statements if s.strip().upper() != "BEGIN"] == []
    # the editing instance sees its own edit at once
    assert _statements(app, read)[0] == ("Dépôt des dossiers (modifié)", minutes + 60, version + 1)
    _delay_passes(second)
    result, statements = _statements(second, read)
    assert result == ("Dépôt des dossiers (modifié)", minutes + 60, version + 1)
    # one comparison of the versions, then the three namespaces that changed are read again
    assert sum("cache_versions" in s for s in statements) == 1
    _delay_passes(second)
    result, statements = _statements(second, read)
    assert result == ("Dépôt des dossiers (modifié)", minutes + 60, version + 1)
    queries = [s for s in statements if s.strip().upper() != "BEGIN"]  # SQLite's explicit BEGIN
    assert len(queries) == 1 and "cache_versions" in queries[0]  # nothing changed: the comparison only


def test_an_archived_article_leaves_the_other_instance_after_the_delays(app, second, make_user):
    from knowledge_base.index import index_service, search_articles
    from knowledge_base.models import Article, ArticleStatus
    from tests.expert.test_expert_triage import create_articles

    _edit(app, create_articles)

    def best():
        results = search_articles("Quelle est la date limite pour déposer ma proposition ?", k=1)
        return results[0][0].external_id if results else None

    first = _statements(second, best)[0]
    assert first is not None

    def archive():
        from knowledge_base import services as kb

        article = db.session.scalar(sa.select(Article).where(Article.external_id == first))
        article.status = ArticleStatus.ARCHIVED
        kb.bump_kb_version()

    _edit(app, archive)
    _delay_passes(second)
    with second.app_context():
        index_service(second)._last_check = float("-inf")
    assert _statements(second, best)[0] != first


def test_a_rolled_back_edit_never_makes_an_old_copy_look_current(app, make_user):
    """The versions are random tokens, not counters: an edit rolled back then another edit cannot collide."""
    from tickets import services
    from tickets.demo import seed_reference_data
    from tickets.models import Topic

    _edit(app, seed_reference_data)
    with app.app_context():
        assert services.topic_with_slug("depot") is not None
        tokens = set()
        for label in ("Premier essai", "Second essai"):
            db.session.scalar(sa.select(Topic).where(Topic.slug == "depot")).label = label
            db.session.flush()
            tokens.add(db.session.scalar(sa.select(refcache.CacheVersion.version)
                                         .where(refcache.CacheVersion.name == "tickets.reference")))
            assert services.topic_with_slug("depot").label == label  # its own transaction's edit
            db.session.rollback()
        assert len(tokens) == 2
        assert services.topic_with_slug("depot").label not in {"Premier essai", "Second essai"}
        db.session.remove()
