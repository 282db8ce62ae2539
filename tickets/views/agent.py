"""Agent side: the queue and the ticket page, with one POST action per service."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core import registry
from crm.core.extensions import db, utcnow
from crm.core.forms import EmptyForm
from crm.core.models import User
from crm.core.security import staff_required
from tickets import queries, services
from tickets.attachments import AttachmentError
from tickets.forms import AgentReplyForm, AssignForm, MergeForm, NoteForm, QueueFilterForm, UpdateForm
from tickets.models import (
    ACTIVE_STATUSES,
    PRIORITY_LABELS,
    SLA_STATE_LABELS,
    STATUS_LABELS,
    Attachment,
    Queue,
    Status,
    Ticket,
    Topic,
)
from tickets.presence import services as presence
from tickets.sla import business_ranges
from tickets.sla_text import clock_explanation
from tickets.sla_tracking import TARGET_LABELS, TARGETS, ticket_clocks
from tickets.views.history import EVENT_LABELS, timeline  # noqa: F401 - EVENT_LABELS: other pages add kinds
from tickets.views.public import auto_answer_articles, incoming_files, send_attachment, topic_label

bp = Blueprint("tickets_agent", __name__, url_prefix="/agent", template_folder="../templates")

ACTIVE, ALL = "actives", "toutes"


@bp.before_request
@staff_required
def _staff_only():
    """Every agent page needs a staff account (403 for requesters, login for visitors)."""


# --- the queue -----------------------------------------------------------------------------------------


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


@bp.get("/file")
def queue():
    """The queue: filters, default sort by the next SLA due time, 50 per page, an estimated count."""
    staff, queues = queries.staff_members(), queries.active_queues()
    form = _filter_form(staff, queues)
    filters = filters_from(form)
    page_number = request.args.get("page", 1, type=int) or 1
    page = queries.list_tickets(filters, page=max(page_number, 1), per_page=queries.PER_PAGE, count=True)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("tickets/queue.html", form=form, page=page, args=args, now=utcnow(),
                           live_state=queries.live_sla_state, count_cap=queries.COUNT_CAP,
                           claim_form=EmptyForm(), queue_id=filters.queue_ids[0] if filters.queue_ids else None)


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


# --- the ticket page -----------------------------------------------------------------------------------


def load_ticket(reference: str) -> Ticket:
    """The ticket with this reference, or 404."""
    ticket = services.ticket_by_reference(reference) if len(reference) <= 20 else None
    if ticket is None:
        abort(404)
    return ticket


def _forms(ticket: Ticket, given: dict) -> dict:
    """Every form of the ticket page, with choices; forms passed in keep what the agent typed."""
    staff = queries.staff_members()
    canned = queries.canned_responses(ticket)
    forms = {
        "reply_form": given.get("reply_form") or AgentReplyForm(
            formdata=None, last_message=str(max((m.id for m in ticket.messages), default=0))),
        "note_form": given.get("note_form") or NoteForm(formdata=None),
        "assign_form": given.get("assign_form") or AssignForm(
            formdata=None, assignee=str(ticket.assignee_id or "")),
        "update_form": given.get("update_form") or UpdateForm(
            formdata=None, priority=ticket.priority, topic=str(ticket.topic_id or ""), queue=str(ticket.queue_id)),
        "merge_form": given.get("merge_form") or MergeForm(formdata=None),
        "action_form": EmptyForm(),
    }
    forms["reply_form"].canned.choices = [("", _("Choisir une réponse type"))] + [
        (str(c.id), c.title + ("" if c.queue_id else " " + _("(toutes files)"))) for c in canned
    ]
    forms["assign_form"].assignee.choices = [("", _("Personne"))] + [(str(u.id), u.name) for u in staff]
    forms["update_form"].topic.choices = [("", _("Sans thème"))] + [(str(t.id), topic_label(t))
                                                                  for t in queries.all_topics()]
    forms["update_form"].queue.choices = [(str(q.id), q.name) for q in queries.active_queues()]
    forms["canned"] = canned
    forms["canned_bodies"] = {str(c.id): c.body for c in canned}
    return forms


def _links(ticket: Ticket) -> dict:
    """The ticket's establishment and project, with their staff pages."""
    links = {}
    if ticket.organisation_id:
        links["organisation"] = (str(ticket.organisation or ticket.organisation_id),
                                 url_for("crm_orgs.view", org_id=ticket.organisation_id))
    if ticket.project_id:
        links["project"] = (str(ticket.project or ticket.project_id),
                            url_for("crm_projects.view", project_id=ticket.project_id))
    return links


def render_ticket(ticket: Ticket, status: int = 200, **given):
    """The ticket page with its forms (those passed in keep the agent's input)."""
    now = utcnow()
    view = ticket_clocks(ticket, now)
    clocks = [(target, _(TARGET_LABELS[target]), view.clocks[target]) for target in TARGETS if target in view.clocks]
    # what each clock counted, as the business-hour ranges it is made of (not the wall-clock spans between pauses)
    counted = {target: business_ranges(view.calendar, clock.counted) for target, _label, clock in clocks}
    return render_template(
        "tickets/ticket.html", ticket=ticket, sla=view, clocks=clocks, counted=counted, now=now,
        timeline=timeline(ticket),
        links=_links(ticket), attachment_url=lambda a: url_for("tickets_agent.download", attachment_id=a.id),
        clock_text=clock_explanation, answers=auto_answer_articles(ticket),
        live_state=queries.live_sla_state, active=ticket.status in ACTIVE_STATUSES,
        can_resolve=Status.RESOLVED in services.TRANSITIONS[Status(ticket.status)],
        can_hold=Status.WAITING in services.TRANSITIONS[Status(ticket.status)] and ticket.status != Status.WAITING,
        **_forms(ticket, given),
    ), status


@bp.get("/demandes/<reference>")
def ticket(reference: str):
    """Everything about one ticket, and the actions on it."""
    return render_ticket(load_ticket(reference))


def _act(reference: str, action: Callable[[Ticket], str | None], form=None, form_name: str | None = None,
         ticket: Ticket | None = None):
    """Validate, call the service, flash, redirect; on refusal roll back and show the page with the input kept.

    ``ticket``: the ticket when the view has loaded it already."""
    ticket = ticket or load_ticket(reference)
    form = form or EmptyForm()
    if not form.validate_on_submit():
        flash(_("Le formulaire contient des erreurs : rien n'a été modifié."), "error")
        return render_ticket(ticket, 422, **({form_name: form} if form_name else {}))
    try:
        message = action(ticket)
    except (services.TicketError, AttachmentError) as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_ticket(load_ticket(reference), 422, **({form_name: form} if form_name else {}))
    if message:
        flash(message, "success")
    return redirect(url_for("tickets_agent.ticket", reference=ticket.reference))


@bp.post("/demandes/<reference>/prendre")
def claim(reference: str):
    def action(ticket):
        if not services.claim_ticket(ticket, current_user):
            raise services.TicketError(_("Cette demande est déjà prise par %(name)s.",
                                         name=ticket.assignee.name if ticket.assignee else "?"))
        return _("Vous avez pris la demande.")

    return _act(reference, action)


@bp.post("/demandes/<reference>/attribuer")
def assign(reference: str):
    form = AssignForm()
    form.assignee.choices = [("", "")] + [(str(u.id), u.name) for u in queries.staff_members()]

    def action(ticket):
        assignee = db.session.get(User, int(form.assignee.data)) if form.assignee.data else None
        services.assign_ticket(ticket, assignee, by=current_user)
        return _("Demande attribuée à %(name)s.", name=assignee.name) if assignee else _("Demande désattribuée.")

    return _act(reference, action, form, "assign_form")


@bp.post("/demandes/<reference>/repondre")
def reply(reference: str):
    """Send a public reply, or (button "Insérer") put a saved reply into the text without sending."""
    form = AgentReplyForm()
    ticket = load_ticket(reference)
    # the saved replies matter only when one is chosen (the page shown again reads them itself)
    canned = {str(c.id): c for c in queries.canned_responses(ticket)} if form.insert.data or form.canned.data else {}
    form.canned.choices = [("", "")] + [(key, c.title) for key, c in canned.items()]
    if form.insert.data:
        chosen = canned.get(form.canned.data or "")
        if chosen is None:
            flash(_("Choisissez une réponse type à insérer."), "error")
        else:
            form.body.data = ((form.body.data or "") + "\n\n" + chosen.body).strip()
        form.body.errors = []
        return render_ticket(ticket, 200, reply_form=form)

    seen = form.last_message.data or ""
    if seen.isdigit() and form.validate_on_submit():
        other = presence.replied_since(ticket, int(seen), current_user)
        if other is not None:  # sent while this agent was writing: they read it first, their draft is kept
            flash(_("%(name)s a répondu au demandeur pendant que vous rédigiez : votre réponse n'est pas envoyée. "
                    "Lisez sa réponse ; votre texte est conservé ci-dessous, envoyez-le s'il reste utile.",
                    name=other.author_name), "error")
            form.last_message.data = str(other.id)
            return render_ticket(ticket, 409, reply_form=form)

    def action(ticket):
        services.reply_to_ticket(ticket, author=current_user, body=form.body.data,
                                 attachments=incoming_files(form.attachments.data),
                                 next_status=form.next_status.data or None)
        return _("Réponse envoyée au demandeur.")

    return _act(reference, action, form, "reply_form", ticket=ticket)


@bp.post("/demandes/<reference>/note")
def note(reference: str):
    form = NoteForm()

    def action(ticket):
        services.add_internal_note(ticket, author=current_user, body=form.note.data)
        return _("Note interne ajoutée.")

    return _act(reference, action, form, "note_form")


@bp.post("/demandes/<reference>/modifier")
def update(reference: str):
    form = UpdateForm()
    form.topic.choices = [("", "")] + [(str(t.id), topic_label(t)) for t in queries.all_topics()]
    form.queue.choices = [(str(q.id), q.name) for q in queries.active_queues()]

    def action(ticket):
        topic = db.session.get(Topic, int(form.topic.data)) if form.topic.data else None
        queue_row = db.session.get(Queue, int(form.queue.data))
        changed = services.update_ticket(ticket, by=current_user, priority=form.priority.data, topic=topic,
                                         queue=queue_row)
        return _("Modifications enregistrées.") if changed else _("Aucune modification.")

    return _act(reference, action, form, "update_form")


@bp.post("/demandes/<reference>/attente")
def hold(reference: str):
    def action(ticket):
        services.put_on_hold(ticket, by=current_user)
        return _("Demande en attente du demandeur : le délai est suspendu.")

    return _act(reference, action)


@bp.post("/demandes/<reference>/resoudre")
def resolve(reference: str):
    def action(ticket):
        services.resolve_ticket(ticket, by=current_user)
        return _("Demande marquée comme résolue.")

    return _act(reference, action)


@bp.post("/demandes/<reference>/rouvrir")
def reopen(reference: str):
    def action(ticket):
        services.reopen_ticket(ticket, by=current_user)
        return _("Demande rouverte.")

    return _act(reference, action)


@bp.post("/demandes/<reference>/fusionner")
def merge(reference: str):
    form = MergeForm()
    wanted = (form.target.data or "").strip().upper()
    # both tickets in one read (the target only if its reference can be one)
    if len(reference) > 20:
        abort(404)
    found = services.tickets_by_references([reference, *([wanted] if len(wanted) <= 20 else [])])
    ticket = found.get(reference.strip().upper())
    if ticket is None:
        abort(404)

    def action(ticket):
        target = found.get(wanted) if wanted else None
        if target is None:
            raise services.TicketError(_("Aucune demande ne porte la référence %(ref)s.", ref=form.target.data))
        services.merge_tickets(ticket, target, by=current_user)
        return _("Demande fusionnée dans %(ref)s.", ref=target.reference)

    return _act(reference, action, form, "merge_form", ticket=ticket)


@bp.get("/pieces-jointes/<int:attachment_id>")
def download(attachment_id: int):
    """Any attachment, for staff."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        abort(404)
    return send_attachment(attachment)


# --- registration ----------------------------------------------------------------------------------------


def ticket_side_panels(ticket: Ticket) -> list[Markup]:
    """Panels other packages add to the ticket page (see crm.core.registry.add_ticket_panel)."""
    return registry.ticket_panels(current_app, ticket)


def _home(user) -> str | None:
    return url_for("tickets_agent.queue") if user.is_staff else None


def init_app(app: Flask) -> None:
    """Register the agent pages, the menu entry, the staff home page and the side-panel template global."""
    app.register_blueprint(bp)
    app.add_template_global(ticket_side_panels, "ticket_side_panels")
    registry.add_menu(app, 10, "File des demandes", "tickets_agent.queue",
                      lambda u: u.is_authenticated and u.is_staff)
    registry.add_home(app, _home)
