"""Agents' full-text search (/agent/recherche): words of subjects, messages and requester names, matches marked."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import Optional

from crm.core import registry
from crm.core.security import staff_required
from tickets import queries, search
from tickets.models import ACTIVE_STATUSES, Status

bp = Blueprint("tickets_search", __name__, url_prefix="/agent", template_folder="../templates")

ALL, ACTIVE = "toutes", "actives"


class SearchForm(FlaskForm):
    """The search, read from the query string (GET, no CSRF token: it changes nothing)."""

    class Meta:
        csrf = False

    #: Its length and syntax are checked by tickets.search.parse, with a message that says what to change.
    q = SearchField(_l("Mots recherchés"), filters=[lambda v: v.strip() if isinstance(v, str) else v])
    statut = SelectField(_l("Statut"), choices=[], validators=[Optional()])
    file = SelectField(_l("File"), choices=[], validators=[Optional()])


@bp.before_request
@staff_required
def _staff_only():
    """Staff only, like every agent page."""


@bp.get("/recherche")
def search_page():
    """Search form and results, best match first, 20 per page."""
    form = SearchForm(request.args)
    form.statut.choices = [(ALL, _("Tous les statuts")), (ACTIVE, _("À traiter (nouvelles, en cours, en attente)"))]
    queues = queries.active_queues()
    form.file.choices = [("", _("Toutes les files"))] + [(str(q.id), q.name) for q in queues]
    results, error = None, None
    if form.q.data and not form.validate():
        error = " ".join(form.q.errors) or None
    elif form.q.data:
        queue = form.file.data if form.file.data in {str(q.id) for q in queues} else ""
        filters = queries.QueueFilters(
            statuses=tuple(ACTIVE_STATUSES) if form.statut.data == ACTIVE else tuple(Status),
            queue_ids=(int(queue),) if queue else ())
        try:
            results = search.search_tickets(form.q.data, filters, page=request.args.get("page", 1, type=int) or 1)
        except search.SearchError as problem:
            error = str(problem)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("tickets/search.html", form=form, results=results, error=error, args=args)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    registry.add_menu(app, 11, "Recherche", "tickets_search.search_page",
                      lambda u: u.is_authenticated and u.is_staff)
