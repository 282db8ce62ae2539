"""Staff pages of a project: the project sheet as agents see it."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.core.security import get_or_404, staff_required
from crm.organisations.models import Organisation
from crm.organisations.services import organisation_family_ids
from crm.projects import queries
from crm.projects.models import Project

bp = Blueprint("crm_projects", __name__, url_prefix="/crm/projets")


@bp.get("/<int:project_id>", endpoint="view")
@staff_required
def view_project(project_id: int):
    """The project sheet as agents see it: every partner, every state, links to the 360° views."""
    item = get_or_404(Project, project_id)
    visible = {partner.id for partner in item.partners}
    amounts = [(_("Ensemble du projet"), queries.project_amounts(item))]
    return render_template("crm/portal/project.html", project=item, visible=visible, amounts=amounts,
                           today=paris_today(), staff_view=True, contact_url=None)


@bp.get("/reference/<reference>")
@staff_required
def project_by_reference(reference: str):
    """Reach a project sheet from its reference (as written on a request)."""
    item = queries.project_by_reference(reference)
    if item is None:
        abort(404)
    return redirect(url_for("crm_projects.view", project_id=item.id))


def organisation_panel(organisation: Organisation) -> Markup:
    """The projects block of the 360° view: the projects of the organisation, its entities and laboratories."""
    family = organisation_family_ids(organisation.id)
    projects = db.session.scalars(queries.projects_of_organisations(family).limit(200)).all()
    return Markup(render_template("crm/orgs/_projects_panel.html", projects=projects))  # noqa: S704
