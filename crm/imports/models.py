"""Runs of the nightly import of the business systems' files, and the lines each run refused."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow


class ImportStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


IMPORT_STATUS_LABELS = {
    ImportStatus.RUNNING: "En cours",
    ImportStatus.SUCCEEDED: "Terminé",
    ImportStatus.FAILED: "Échec",
}


class ImportRun(db.Model):
    """One run of the import of the business systems' files, with its counts per entity."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(500))
    trigger: Mapped[str] = mapped_column(sa.String(20), default="cli")
    status: Mapped[str] = mapped_column(sa.String(10), default=ImportStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None]
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    #: {"projects": {"created": 1, "updated": 0, "unchanged": 3, "rejected": 0, "deleted": 0}, ...}
    counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str] = mapped_column(sa.Text, default="")

    rejections: Mapped[list[ImportRejection]] = relationship(
        back_populates="run", order_by="ImportRejection.id", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def status_label(self) -> str:
        return IMPORT_STATUS_LABELS.get(self.status, self.status)


class ImportRejection(db.Model):
    """A line the import refused: which file, which line, why."""

    __tablename__ = "import_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("import_runs.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(sa.String(255))
    line: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(500))

    run: Mapped[ImportRun] = relationship(back_populates="rejections")
