"""Administration of the nightly import: the runs and their rejected lines."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from crm.core.extensions import db
from crm.core.models import Role
from crm.core.security import get_or_404, roles_required
from crm.imports import queries
from crm.imports.models import ImportRun

bp = Blueprint("crm_imports", __name__, url_prefix="/crm/admin")


@bp.get("/imports")
@roles_required(Role.ADMIN)
def runs():
    """The latest import runs with their counts."""
    page = db.paginate(queries.import_runs(), page=request.args.get("page", 1, int), per_page=30, error_out=False)
    return render_template("crm/orgs/imports.html", page=page)


@bp.get("/imports/<int:run_id>")
@roles_required(Role.ADMIN)
def run(run_id: int):
    """One run: counts per entity and every rejected line (file, line, reason)."""
    run = get_or_404(ImportRun, run_id)
    page = db.paginate(queries.run_rejections(run), page=request.args.get("page", 1, int), per_page=100,
                       error_out=False)
    return render_template("crm/orgs/import_run.html", run=run, page=page)
