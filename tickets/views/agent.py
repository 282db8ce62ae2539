"""Agent side: the ticket page, with one POST action per service (the queue: tickets.views.queue)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core import registry
from crm.core.extensions import db, utcnow
from crm.core.forms import EmptyForm
from crm.core.models import User
from tickets import queries, services
from tickets.attachments import AttachmentError
from tickets.forms import AgentReplyForm, AssignForm, MergeForm, NoteForm, UpdateForm
from tickets.identity import other_requests
from tickets.models import (
    ACTIVE_STATUSES,
    Attachment,
    Message,
    Queue,
    Status,
    Ticket,
    Topic,
)
from tickets.presence import services as presence
from tickets.sla import business_ranges
from tickets.sla_text import clock_explanation
from tickets.sla_tracking import TARGET_LABELS, TARGETS, ticket_clocks
from tickets.views import queue
from tickets.views.history import EVENT_LABELS, timeline  # noqa: F401 - EVENT_LABELS: other pages add kinds
from tickets.views.public import auto_answer_articles, incoming_files, send_attachment, topic_label
from tickets.views.staff import bp

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


def requester_others(ticket: Ticket) -> list[Ticket]:
    """The requester's other requests (identity.other_requests), read once per request: the merge picker and the
    side panel (tickets.views.links.requester_panel) show them both."""
    found = g.setdefault("requester_others", {})
    if ticket.id not in found:
        found[ticket.id] = other_requests(ticket)
    return found[ticket.id]


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
        links=_links(ticket), merge_candidates=[t for t in requester_others(ticket) if t.status != Status.CLOSED],
        attachment_url=lambda a: url_for("tickets_agent.download", attachment_id=a.id),
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
    seen = form.last_message.data or ""
    # the ticket, and a reply another agent sent since the page showed (an id the database can hold: ASCII digits,
    # within a BIGINT; anything else skips the check)
    if seen.isascii() and seen.isdigit() and len(seen) <= 18 and len(reference) <= 20:
        ticket, other_id = presence.ticket_with_reply_since(reference, int(seen), current_user)
        if ticket is None:
            abort(404)
    else:
        ticket, other_id = load_ticket(reference), None
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

    if other_id is not None and form.validate_on_submit():  # sent while this agent was writing: read it first
        other = db.session.get(Message, other_id)
        flash(_("%(name)s a répondu au demandeur pendant que vous rédigiez : votre réponse n'est pas envoyée. "
                "Lisez sa réponse ; votre texte est conservé ci-dessous, envoyez-le s'il reste utile.",
                name=other.author_name), "error")
        form.last_message.data = str(other_id)
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

    target = found.get(wanted) if wanted else None

    def checked(ticket):
        if target is None:
            raise services.TicketError(_("Aucune demande ne porte la référence %(ref)s.", ref=form.target.data))
        services.check_merge(ticket, target)

    if form.confirm.data != "1" and form.validate_on_submit():  # first the two requests side by side, to confirm
        try:
            checked(ticket)
        except services.TicketError as error:
            flash(str(error), "error")
            return render_ticket(ticket, 422, merge_form=form)
        return render_template("tickets/merge_confirm.html", ticket=ticket, target=target, form=form)

    def action(ticket):
        checked(ticket)
        services.merge_tickets(ticket, target, by=current_user)
        return _("Demande fusionnée dans %(ref)s. Vous pouvez annuler la fusion depuis cette page.",
                 ref=target.reference)

    return _act(reference, action, form, "merge_form", ticket=ticket)


@bp.post("/demandes/<reference>/annuler-fusion")
def unmerge(reference: str):
    """Undo a merge: the duplicate is a request of its own again, in the status it had."""
    def action(ticket):
        into = services.undo_merge(ticket, by=current_user)
        return _("Fusion annulée : la demande n'est plus un doublon de %(ref)s.", ref=into.reference)

    return _act(reference, action)


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


def init_app(app: Flask) -> None:
    """Register the agent pages (the queue's included), the menu entry, the staff home pages and the side-panel
    template global."""
    app.register_blueprint(bp)
    app.add_template_global(ticket_side_panels, "ticket_side_panels")
    registry.add_menu(app, 10, "File des demandes", "tickets_agent.queue",
                      lambda u: u.is_authenticated and u.is_staff)
    registry.add_home(app, queue.home_of)
