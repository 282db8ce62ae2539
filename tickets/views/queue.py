"""The agent queue: filters, sortable columns, pages, built-in and saved views, bulk actions with a confirmation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm.core.extensions import db, utcnow
from crm.core.forms import EmptyForm
from crm.core.models import Role, User
from tickets import bulk, queries, queue_views, services
from tickets.forms import BulkActionForm, QueueFilterForm, SavedViewForm
from tickets.models import PRIORITY_LABELS, SLA_STATE_LABELS, STATUS_LABELS, Queue, Status
from tickets.views.public import topic_label
from tickets.views.staff import bp

ACTIVE, ALL = "actives", "toutes"


def _filter_form(staff: list[User], queues: list[Queue]) -> QueueFilterForm:
    form = QueueFilterForm(request.args)
    form.file.choices = [("", _("Toutes les files"))] + [(str(q.id), q.name) for q in queues]
    form.statut.choices = [(ACTIVE, _("À traiter (nouvelles, en cours, en attente)")), (ALL, _("Tous les statuts"))] + [
        (s.value, _(label)) for s, label in STATUS_LABELS.items()
    ]
    form.priorite.choices = [("", _("Toutes"))] + [(p.value, _(label)) for p, label in PRIORITY_LABELS.items()]
    form.theme.choices = [("", _("Tous les thèmes"))] + [(str(t.id), topic_label(t)) for t in queries.all_topics()]
    form.attribution.choices = [
        (queries.ASSIGNEE_ANY, _("Tout le monde")), (queries.ASSIGNEE_ME, _("Moi")),
        (queries.ASSIGNEE_GROUP, _("Moi ou mes groupes")),
        (queries.ASSIGNEE_NONE, _("Personne (non attribuées)")),
    ] + [(str(u.id), u.name) for u in staff]
    form.sla.choices = [("", _("Tous"))] + [(s.value, _(SLA_STATE_LABELS[s])) for s in queries.SLA_FILTERS]
    form.tri.choices = [(key, _(label)) for key, label in queries.SORTS.items()]
    for name, default in (("statut", ACTIVE), ("attribution", queries.ASSIGNEE_ANY), ("tri", "due")):
        if not form[name].data:
            form[name].data = default
    return form


def filters_from(form: QueueFilterForm) -> queries.QueueFilters:
    """Turn the (already validated) filter form into QueueFilters; unknown values are ignored."""

    def known(field) -> str:
        value = form[field].data or ""
        return value if value in {str(c[0]) for c in form[field].choices} else ""

    status = known("statut") or ACTIVE
    statuses = () if status == ACTIVE else tuple(Status) if status == ALL else (status,)
    queue, topic, assignee = known("file"), known("theme"), known("attribution") or queries.ASSIGNEE_ANY
    return queries.QueueFilters(
        queue_ids=(int(queue),) if queue else (), statuses=statuses,
        priorities=(known("priorite"),) if known("priorite") else (),
        topic_ids=(int(topic),) if topic else (),
        assignee=int(assignee) if assignee.isdigit() else assignee, viewer_id=current_user.id,
        sla_state=known("sla") or None, search=(form.q.data or "")[:200], sort=known("tri") or "due",
    )


def _bulk_choices(form: BulkActionForm, staff: list[User], queues: list[Queue]) -> BulkActionForm:
    form.action.choices = [("", _("Choisir une action"))] + [(k, _(label)) for k, label in bulk.ACTION_LABELS.items()]
    form.agent.choices = [("", _("Choisir"))] + [(str(u.id), u.name) for u in staff]
    form.file_cible.choices = [("", _("Choisir"))] + [(str(q.id), q.name) for q in queues]
    form.priorite_cible.choices = [("", _("Choisir"))] + [(p.value, _(label)) for p, label in PRIORITY_LABELS.items()]
    return form


def _column_sorts(sort: str) -> dict[str, dict]:
    """For each sortable column: the sort its link asks for, and its aria-sort value."""
    columns = {}
    for column, (first, reverse) in queries.COLUMN_SORTS.items():
        shown = sort in (first, reverse)
        direction = "descending" if sort in queries.DESCENDING_SORTS else "ascending"
        columns[column] = {"sort": reverse if sort == first else first, "aria": direction if shown else None}
    return columns


@bp.get("/file")
def queue():
    """The queue: views, filters, sortable columns, 50 per page with the page count, bulk actions."""
    staff, queues = queries.staff_members(), queries.active_queues()
    form = _filter_form(staff, queues)
    filters = filters_from(form)
    page_number = request.args.get("page", 1, type=int) or 1
    page = queries.list_tickets(filters, page=max(page_number, 1), per_page=queries.PER_PAGE, count=True)
    args = {k: v for k, v in request.args.items() if k not in ("page", "tout") and v}
    view_args = queue_views.clean_query(args.items())
    saved = queue_views.saved_views(current_user.id)
    load = queries.workload(current_user.id) if filters.assignee == queries.ASSIGNEE_GROUP else None
    return render_template(
        "tickets/queue.html", form=form, page=page, args=args, now=utcnow(), live_state=queries.live_sla_state,
        count_cap=queries.COUNT_CAP, claim_form=EmptyForm(),
        queue_id=filters.queue_ids[0] if filters.queue_ids else None,
        columns=_column_sorts(filters.sort), built_in=queue_views.BUILT_IN, view_labels=queue_views.VIEW_LABELS,
        saved=saved, load=load,
        current_view=queue_views.current_view(view_args, saved), view_query=queue_views.urlencode(view_args),
        bulk_form=_bulk_choices(BulkActionForm(formdata=None), staff, queues), save_form=SavedViewForm(formdata=None),
        delete_form=EmptyForm(), select_all=request.args.get("tout") == "1",
    )


@bp.post("/file/suivante")
def claim_next():
    """Take the unassigned active ticket due first (in the chosen queue, if any)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    queue_id = request.form.get("file", type=int)
    queue_row = db.session.get(Queue, queue_id) if queue_id else None
    ticket = services.claim_next_ticket(current_user, queue_row)
    if ticket is None:
        flash(_("Aucune demande non attribuée à prendre pour le moment."), "info")
        return redirect(url_for(".queue", **({"file": queue_id} if queue_row else {})))
    flash(_("Vous avez pris la demande %(ref)s.", ref=ticket.reference), "success")
    return redirect(url_for(".ticket", reference=ticket.reference))


# --- bulk actions ----------------------------------------------------------------------------------------


def _bulk_action(form: BulkActionForm, staff: list[User], queues: list[Queue]) -> bulk.BulkAction:
    """The action the form asks for, with the rows it names (an unknown target stays None, refused below)."""
    wanted = (form.doublon.data or "").upper()
    return bulk.BulkAction(
        action=form.action.data,
        assignee=next((u for u in staff if str(u.id) == form.agent.data), None),
        queue=next((q for q in queues if str(q.id) == form.file_cible.data), None),
        priority=form.priorite_cible.data or None,
        target=services.ticket_by_reference(wanted) if form.action.data == bulk.DUPLICATE and wanted else None,
    )


def _back(form: BulkActionForm):
    return redirect(url_for(".queue", **queue_views.query_args(form.retour.data or "")))


@bp.route("/file/lot", methods=["GET", "POST"])
def bulk_action():
    """GET: the confirmation page (the tickets and the effect, nothing changed); POST with `confirmer`: apply the
    action to all of them in one transaction, or to none."""
    staff, queues = queries.staff_members(), queries.active_queues()
    posted = request.method == "POST"
    form = _bulk_choices(BulkActionForm() if posted else BulkActionForm(request.args, meta={"csrf": False}),
                         staff, queues)
    if not form.validate():
        if posted and "csrf_token" in form.errors:
            abort(400)
        messages = [error for name, errors in form.errors.items() for error in errors if name != "retour"]
        flash(_("Action groupée impossible : %(why)s", why=" ".join(str(m) for m in messages)), "error")
        return _back(form)
    action = _bulk_action(form, staff, queues)
    ids = list(form.demandes.data)
    tickets = bulk.selected_tickets(ids, current_user)
    refused = bulk.refusals(ids, tickets, action)
    if action.action == bulk.DUPLICATE and action.target is None:
        refused.append(_("Aucune demande ne porte la référence %(ref)s.", ref=form.doublon.data))
    if refused or not posted or form.confirmer.data != "1":
        if posted and not refused:
            flash(_("Confirmez l'action : rien n'a encore été modifié."), "info")
        return render_template("tickets/bulk_confirm.html", form=form, tickets=tickets, action=action,
                               refused=refused, action_label=_(bulk.ACTION_LABELS[action.action]),
                               priority_labels=PRIORITY_LABELS,
                               back_args=queue_views.query_args(form.retour.data or "")), 422 if refused else 200
    try:
        changed = bulk.apply_bulk_action(tickets, action, by=current_user)
    except services.TicketError as error:
        db.session.rollback()
        flash(_("Aucune demande n'a été modifiée : %(why)s", why=str(error)), "error")
        return _back(form)
    unchanged = len(tickets) - changed
    message = ngettext("Action groupée appliquée : %(num)d demande modifiée.",
                       "Action groupée appliquée : %(num)d demandes modifiées.", changed)
    if unchanged:
        message += " " + ngettext("%(num)d était déjà dans cet état.", "%(num)d étaient déjà dans cet état.", unchanged)
    flash(message, "success")
    return _back(form)


# --- saved views --------------------------------------------------------------------------------------------


@bp.post("/file/vues")
def save_view():
    """Save the queue's current filters and sort under a name (one of the same name is replaced)."""
    form = SavedViewForm()
    args = queue_views.query_args(form.requete.data or "")
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        flash(_("Vue non enregistrée : %(why)s", why=" ".join(str(e) for e in form.nom.errors)), "error")
        return redirect(url_for(".queue", **args))
    if len(queue_views.saved_views(current_user.id)) >= queue_views.MAX_VIEWS:
        flash(_("Vous avez déjà %(n)s vues enregistrées : supprimez-en une d'abord.", n=queue_views.MAX_VIEWS),
              "error")
        return redirect(url_for(".queue", **args))
    queue_views.save_view(current_user, form.nom.data, args)
    flash(_("Vue « %(name)s » enregistrée.", name=form.nom.data), "success")
    return redirect(url_for(".queue", **args))


@bp.post("/file/vues/<int:view_id>/supprimer")
def delete_view(view_id: int):
    """Delete one of one's own saved views (another person's is not found)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not queue_views.delete_view(current_user, view_id):
        abort(404)
    flash(_("Vue supprimée."), "success")
    return redirect(url_for(".queue"))


def home_of(user) -> str | None:
    """Staff land on the queue; a référent (no agent or manager role) on their own questions, with their load."""
    if not user.is_staff:
        return None
    if user.has_role(Role.REFERENT) and not user.has_role(Role.AGENT, Role.MANAGER):
        return url_for("tickets_agent.queue", attribution=queries.ASSIGNEE_GROUP)
    return url_for("tickets_agent.queue")

