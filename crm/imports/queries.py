"""Named queries of the nightly import: its runs and their rejected lines."""

from __future__ import annotations

import sqlalchemy as sa

from crm.imports.models import ImportRejection, ImportRun


def import_runs() -> sa.Select:
    """Every import run, latest first (to paginate)."""
    return sa.select(ImportRun).order_by(ImportRun.started_at.desc(), ImportRun.id.desc())


def run_rejections(run: ImportRun) -> sa.Select:
    """The lines a run rejected, in the order they were read (to paginate)."""
    return sa.select(ImportRejection).where(ImportRejection.run_id == run.id).order_by(ImportRejection.id)
