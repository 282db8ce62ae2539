"""Article life cycle: create, update, publish, archive; each change saves a revision and bumps the version."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from crm.core import refcache
from crm.core.database import LIKE_ESCAPE, like_pattern
from crm.core.extensions import db, utcnow
from crm.core.models import Role, User
from knowledge_base.models import (
    CONTENT_FIELDS,
    LANGUAGES,
    Article,
    ArticleRevision,
    ArticleStatus,
    KnowledgeBaseState,
)

EDITOR_ROLES = (Role.REFERENT, Role.MANAGER, Role.ADMIN)
# Agents may propose drafts; editors publish, archive and edit published articles.
PROPOSER_ROLES = (Role.AGENT, *EDITOR_ROLES)

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
_CALL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


class ArticleError(ValueError):
    """An article change refused, with a French message for the user."""


# -- permissions -------------------------------------------------------------------------------


def can_edit_articles(user: User | None) -> bool:
    """True for référents, managers and administrators, who edit and publish articles."""
    return bool(user and user.is_authenticated and user.has_role(*EDITOR_ROLES))


def can_propose_articles(user: User | None) -> bool:
    """True for staff who may write drafts (agents included)."""
    return bool(user and user.is_authenticated and user.has_role(*PROPOSER_ROLES))


def can_edit_article(user: User | None, article: Article) -> bool:
    """Editors edit any article; agents edit drafts only."""
    if can_edit_articles(user):
        return True
    return can_propose_articles(user) and article.status == ArticleStatus.DRAFT


# -- version counter ---------------------------------------------------------------------------


def bump_kb_version() -> int:
    """Increment the knowledge-base version (row locked until commit) so every worker rebuilds its index."""
    token = secrets.token_hex(16)
    values = {"version": KnowledgeBaseState.version + 1, "token": token, "changed_at": utcnow()}
    statement = sa.update(KnowledgeBaseState).where(KnowledgeBaseState.id == 1).values(**values)
    if db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount == 0:
        try:
            with db.session.begin_nested():
                db.session.add(KnowledgeBaseState(id=1, version=1, token=token, changed_at=utcnow()))
        except IntegrityError:  # another transaction created the row first
            db.session.execute(statement, execution_options={"synchronize_session": False})
    db.session.info["kb_changed"] = True
    return current_kb_version()[0]


def _load_kb_version(session) -> tuple[int, str]:
    row = session.execute(
        sa.select(KnowledgeBaseState.version, KnowledgeBaseState.token).where(KnowledgeBaseState.id == 1)
    ).first()
    return (int(row[0]), str(row[1])) if row else (0, "")


KB_VERSION = "knowledge_base.version"
# The version row itself is cached like reference data: checking it costs no statement of its own, it rides on
# the one version read of crm.core.refcache (and is read again only when it changed).
refcache.register(KB_VERSION, _load_kb_version, KnowledgeBaseState)


def current_kb_version() -> tuple[int, str]:
    """Return (version, token) of the knowledge base; (0, "") before any change."""
    return refcache.get(KB_VERSION)


# -- validation --------------------------------------------------------------------------------


def _strings(value: Any, what: str) -> list[str]:
    """Return a list of stripped, non-blank, de-duplicated strings from a list or a text of lines."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise ArticleError(_("%(field)s : une liste de textes est attendue.", field=what))
    seen: dict[str, None] = {}
    for item in value:
        item = " ".join(item.split())
        if item and item.casefold() not in {s.casefold() for s in seen}:
            seen[item] = None
    return list(seen)


def _date(value: Any, what: str) -> date | None:
    """Return a date from a date, an ISO string or nothing."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ArticleError(_("%(field)s : date attendue au format AAAA-MM-JJ.", field=what))


def clean_content(data: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate and normalise article content; keys missing from ``data`` keep their ``base`` value."""
    merged = dict(base or {})
    merged.update({k: v for k, v in data.items() if k in CONTENT_FIELDS or k == "meta"})
    question = " ".join(str(merged.get("question") or "").split())
    if not question:
        raise ArticleError(_("La question est obligatoire."))
    if len(question) > 500:
        raise ArticleError(_("La question ne doit pas dépasser 500 caractères."))
    answer = str(merged.get("answer") or "").strip()
    if not answer:
        raise ArticleError(_("La réponse est obligatoire."))
    phrasings = [p for p in _strings(merged.get("phrasings"), _("Formulations")) if p.casefold() != question.casefold()]
    if any(len(p) > 500 for p in phrasings):
        raise ArticleError(_("Une formulation ne doit pas dépasser 500 caractères."))
    topic = (merged.get("topic") or "").strip() or None
    if topic is not None and not _SLUG_RE.match(topic):
        raise ArticleError(_("Thème : identifiant en minuscules attendu (lettres, chiffres, tirets)."))
    calls = [c.upper() for c in _strings(merged.get("calls"), _("Appels"))]
    bad = [c for c in calls if not _CALL_RE.match(c)]
    if bad:
        raise ArticleError(_("Code d'appel invalide : %(code)s.", code=bad[0]))
    language = (merged.get("language") or "fr").strip().lower()
    if language not in LANGUAGES:
        raise ArticleError(_("Langue : « fr » ou « en » attendu."))
    valid_from = _date(merged.get("valid_from"), _("Valable à partir du"))
    valid_until = _date(merged.get("valid_until"), _("Valable jusqu'au"))
    if valid_from and valid_until and valid_until < valid_from:
        raise ArticleError(_("La fin de validité précède son début."))
    status = str(merged.get("status") or ArticleStatus.DRAFT)
    if status not in set(ArticleStatus):
        raise ArticleError(_("Statut : « draft », « published » ou « archived » attendu."))
    meta = merged.get("meta") or {}
    if not isinstance(meta, dict):
        raise ArticleError(_("Métadonnées : un objet est attendu."))
    return {"question": question, "phrasings": phrasings, "answer": answer, "topic": topic, "calls": calls,
            "language": language, "valid_from": valid_from, "valid_until": valid_until, "status": status,
            "meta": meta}


def check_call_code(code: str) -> str:
    """Return a call code in capitals (as articles list them) or raise ArticleError."""
    code = (code or "").strip().upper()
    if not _CALL_RE.match(code):
        raise ArticleError(_("Code d'appel invalide : %(code)s.", code=code))
    return code


def check_external_id(external_id: str) -> str:
    """Return a valid external id or raise ArticleError."""
    external_id = (external_id or "").strip()
    if not _EXTERNAL_ID_RE.match(external_id):
        raise ArticleError(_("Identifiant : lettres, chiffres, « . », « _ », « : » ou « - » (100 caractères au plus)."))
    return external_id


# -- queries -----------------------------------------------------------------------------------


def article_by_external_id(external_id: str) -> Article | None:
    """Return the article with this external id, if any."""
    return db.session.scalar(sa.select(Article).where(Article.external_id == external_id))


def offered_articles_query(day: date, *, topic: str | None = None, language: str | None = None) -> sa.Select:
    """Return a select of the published articles valid on ``day`` (what requesters may see)."""
    query = sa.select(Article).where(
        Article.status == ArticleStatus.PUBLISHED,
        sa.or_(Article.valid_from.is_(None), Article.valid_from <= day),
        sa.or_(Article.valid_until.is_(None), Article.valid_until >= day),
    )
    if topic:
        query = query.where(Article.topic == topic)
    if language:
        query = query.where(Article.language == language)
    return query


def staff_articles_query(*, status: str | None = None, topic: str | None = None, text: str = "") -> sa.Select:
    """Return a select of the articles for the staff list, last changed first, filtered on status, topic, text."""
    query = sa.select(Article).order_by(Article.updated_at.desc(), Article.id.desc())
    if status:
        query = query.where(Article.status == status)
    if topic:
        query = query.where(Article.topic == topic)
    if text:
        pattern = like_pattern(text)
        query = query.where(sa.or_(Article.question.ilike(pattern, escape=LIKE_ESCAPE),
                                   Article.external_id.ilike(pattern, escape=LIKE_ESCAPE)))
    return query


# -- changes -----------------------------------------------------------------------------------


#: What each revision did (ArticleRevision.action), as the history shows it.
REVISION_ACTION_LABELS = {
    "created": "Article créé",
    "updated": "Article modifié",
    "imported": "Article importé",
    "restored": "Version restaurée",
    "published": "Article publié",
    "archived": "Article archivé",
}


def _save_revision(article: Article, action: str, author: User | None, comment: str | None = None) -> None:
    """Number a new revision of the article with its full content, then bump the version."""
    article.revision = (article.revision or 0) + 1
    article.updated_at = utcnow()
    article.updated_by = author
    db.session.add(ArticleRevision(article=article, number=article.revision, action=action, author=author,
                                   comment=(comment or "").strip()[:500] or None, **article.content()))
    db.session.flush()
    bump_kb_version()


def _apply(article: Article, content: Mapping[str, Any]) -> None:
    """Copy validated content onto the article."""
    for name, value in content.items():
        setattr(article, name, value)
    if article.status == ArticleStatus.PUBLISHED and article.published_at is None:
        article.published_at = utcnow()


def create_article(data: Mapping[str, Any], author: User | None, *, external_id: str | None = None,
                   action: str = "created", comment: str | None = None) -> Article:
    """Create an article (a draft unless ``data['status']`` says otherwise) with its first revision."""
    content = clean_content(data)
    external_id = check_external_id(external_id) if external_id else f"kb-{secrets.token_hex(5)}"
    if article_by_external_id(external_id) is not None:
        raise ArticleError(_("Un article porte déjà l'identifiant %(id)s.", id=external_id))
    article = Article(external_id=external_id, created_by=author, created_at=utcnow(), revision=0)
    _apply(article, content)
    db.session.add(article)
    _save_revision(article, action, author, comment)
    return article


def update_article(article: Article, data: Mapping[str, Any], author: User | None, *,
                   action: str = "updated", comment: str | None = None) -> bool:
    """Apply changed content; save a revision when something changed. Return whether it changed."""
    content = clean_content(data, base={**article.content(), "meta": article.meta})
    if all(getattr(article, name) == value for name, value in content.items()):
        return False
    _apply(article, content)
    _save_revision(article, action, author, comment)
    return True


def publish_article(article: Article, author: User | None) -> None:
    """Publish an article so that requesters see it and the matcher offers it."""
    if article.status == ArticleStatus.PUBLISHED:
        raise ArticleError(_("Cet article est déjà publié."))
    article.status = ArticleStatus.PUBLISHED
    article.published_at = utcnow()
    _save_revision(article, "published", author)


def archive_article(article: Article, author: User | None) -> None:
    """Archive an article: it is no longer offered but its history stays."""
    if article.status == ArticleStatus.ARCHIVED:
        raise ArticleError(_("Cet article est déjà archivé."))
    article.status = ArticleStatus.ARCHIVED
    _save_revision(article, "archived", author)


def restore_revision(article: Article, revision: ArticleRevision, author: User | None) -> bool:
    """Bring back the content of an earlier revision (status kept) as a new revision."""
    if revision.article_id != article.id:
        raise ArticleError(_("Cette version n'appartient pas à cet article."))
    content = {k: v for k, v in revision.content().items() if k != "status"}
    return update_article(article, content, author, action="restored",
                          comment=f"Retour à la version {revision.number}")


# -- history -----------------------------------------------------------------------------------

FIELD_LABELS = {"question": "Question", "phrasings": "Autres formulations", "answer": "Réponse", "topic": "Thème",
                "calls": "Appels concernés", "language": "Langue", "valid_from": "Valable à partir du",
                "valid_until": "Valable jusqu'au", "status": "Statut"}


def _lines(value: Any) -> list[str]:
    """Return a field value as text lines for a diff."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).splitlines()


def revision_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the changed fields between two contents, each with diff lines ("+", "-" or " " first)."""
    import difflib

    changes = []
    for name in CONTENT_FIELDS:
        old = before.get(name) if before else None
        new = after.get(name)
        if old == new or (not old and not new):
            continue
        lines = [line for line in difflib.ndiff(_lines(old), _lines(new)) if line[:1] in "+- "]
        changes.append({"field": name, "label": FIELD_LABELS[name], "lines": [(line[0], line[2:]) for line in lines]})
    return changes


def previous_revision(revision: ArticleRevision) -> ArticleRevision | None:
    """Return the revision just before ``revision`` of the same article."""
    return db.session.scalar(
        sa.select(ArticleRevision).where(ArticleRevision.article_id == revision.article_id,
                                         ArticleRevision.number < revision.number)
        .order_by(ArticleRevision.number.desc()).limit(1)
    )
