"""Knowledge-base articles, their revisions and the version counter that tells workers to rebuild."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User
from knowledge_base.text import call_key


def calls_apply(calls, call: str | None) -> bool:
    """True when an article listing ``calls`` (none: every call) is about ``call`` (codes compared by call_key)."""
    return call is None or not calls or call_key(call) in {call_key(c) for c in calls}


class ArticleStatus(enum.StrEnum):
    """Life cycle of an article: only published articles are offered to requesters."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


STATUS_LABELS = {
    ArticleStatus.DRAFT: "Brouillon",
    ArticleStatus.PUBLISHED: "Publié",
    ArticleStatus.ARCHIVED: "Archivé",
}

LANGUAGES = ("fr", "en")

# The fields copied into every revision, in the order they are compared in the history.
CONTENT_FIELDS = ("question", "phrasings", "answer", "topic", "calls", "language", "valid_from", "valid_until",
                  "status")


class Article(db.Model):
    """A question of the knowledge base with its answer (Markdown), phrasings and where it applies."""

    __tablename__ = "kb_articles"
    __table_args__ = (sa.Index("ix_kb_articles_status_topic", "status", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    question: Mapped[str] = mapped_column(sa.String(500))
    phrasings: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    answer: Mapped[str] = mapped_column(sa.Text)
    topic: Mapped[str | None] = mapped_column(sa.String(50))
    calls: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    language: Mapped[str] = mapped_column(sa.String(5), default="fr")
    valid_from: Mapped[date | None] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default=ArticleStatus.DRAFT)
    meta: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    revision: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    revisions: Mapped[list[ArticleRevision]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleRevision.number.desc()",
        lazy="dynamic",
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(ArticleStatus(self.status), self.status)

    def is_valid_on(self, day: date) -> bool:
        """True when ``day`` falls within the article's validity dates (both inclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    def is_offered_on(self, day: date) -> bool:
        """True when the article is published and valid on ``day``: requesters may see it."""
        return self.status == ArticleStatus.PUBLISHED and self.is_valid_on(day)

    def applies_to_call(self, call: str | None) -> bool:
        """True for an article about every call (no list) or one that lists ``call`` (codes compared by call_key)."""
        return calls_apply(self.calls, call)

    def content(self) -> dict:
        """Return the editable content as a plain dict (what a revision stores)."""
        return {name: getattr(self, name) for name in CONTENT_FIELDS}

    def __repr__(self) -> str:
        return f"<Article {self.external_id} r{self.revision} {self.status}>"


class ArticleRevision(db.Model):
    """One saved state of an article: every change keeps the full content, its author and date."""

    __tablename__ = "kb_article_revisions"
    __table_args__ = (sa.UniqueConstraint("article_id", "number", name="article_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(20))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    comment: Mapped[str | None] = mapped_column(sa.String(500))
    question: Mapped[str] = mapped_column(sa.String(500))
    phrasings: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    answer: Mapped[str] = mapped_column(sa.Text)
    topic: Mapped[str | None] = mapped_column(sa.String(50))
    calls: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    language: Mapped[str] = mapped_column(sa.String(5))
    valid_from: Mapped[date | None] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20))

    article: Mapped[Article] = relationship(back_populates="revisions")
    author: Mapped[User | None] = relationship()

    def content(self) -> dict:
        """Return the content saved in this revision."""
        return {name: getattr(self, name) for name in CONTENT_FIELDS}


class KnowledgeBaseState(db.Model):
    """A single row bumped by every article change; workers compare it to rebuild their index."""

    __tablename__ = "kb_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    token: Mapped[str] = mapped_column(sa.String(32))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class TextVector(db.Model):
    """The semantic vector of one text (question, phrasing, answer, later a passage) for one encoder model.

    Keyed by the SHA-256 of the model, the kind (passage or query) and the text (``semantic.text_hash``): an unchanged
    text keeps its vector across revisions, a changed one gets a new row, and a passage or an article with the
    same text shares it. Rows no text uses any more are deleted by the ``kb_embeddings`` job.
    """

    __tablename__ = "kb_text_vectors"
    __table_args__ = (sa.UniqueConstraint("model", "text_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(sa.String(64))
    text_hash: Mapped[str] = mapped_column(sa.String(64))
    dim: Mapped[int]
    vector: Mapped[bytes] = mapped_column(sa.LargeBinary)  # float32, little-endian, unit length
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
