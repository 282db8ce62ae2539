"""Call documents, their uploaded versions and the passages each version was split into."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User

KIND_LABELS = {"pdf": "PDF", "html": "HTML", "markdown": "Markdown"}
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8",
               "markdown": "text/markdown; charset=utf-8"}


class CallDocument(db.Model):
    """A document of a call (rules, guide, calendar) as people cite it; its text is in its current version."""

    __tablename__ = "kb_documents"
    __table_args__ = (sa.UniqueConstraint("call_code", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    title: Mapped[str] = mapped_column(sa.String(255))
    #: The call it belongs to, as articles name calls (None: a document about every call).
    call_code: Mapped[str | None] = mapped_column(sa.String(40))
    valid_from: Mapped[date | None] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    #: The number of the version whose passages are offered (the last one uploaded).
    current_number: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship()
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentVersion.number.desc()")

    def is_valid_on(self, day: date) -> bool:
        """True when ``day`` falls within the document's validity dates (both inclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until)

    @property
    def current_version(self) -> DocumentVersion | None:
        return next((v for v in self.versions if v.number == self.current_number), None)

    def __repr__(self) -> str:
        return f"<CallDocument {self.slug} v{self.current_number}>"


class DocumentVersion(db.Model):
    """One uploaded file of a document, kept with its passages when a newer one replaces it."""

    __tablename__ = "kb_document_versions"
    __table_args__ = (sa.UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    filename: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(20))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    document: Mapped[CallDocument] = relationship(back_populates="versions")
    uploaded_by: Mapped[User | None] = relationship()
    passages: Mapped[list[DocumentPassage]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="DocumentPassage.position")

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


class DocumentPassage(db.Model):
    """A passage of a document version: its text, the headings above it and its page (PDF)."""

    __tablename__ = "kb_passages"
    __table_args__ = (sa.UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("kb_document_versions.id", ondelete="CASCADE"),
                                            index=True)
    position: Mapped[int]
    heading_path: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    page: Mapped[int | None]
    text: Mapped[str] = mapped_column(sa.Text)

    version: Mapped[DocumentVersion] = relationship(back_populates="passages")

    @property
    def heading(self) -> str:
        return " › ".join(self.heading_path or ())

    @property
    def anchor(self) -> str:
        return f"passage-{self.position}"
