"""The portal's modification requests: file from the project sheet, resume a draft, co-validate, answer the agency,
withdraw, and the tracking table. Every load goes through the portal scope (404 outside it)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from crm.core.extensions import db, limiter
from crm.portal.scope import profiles_of, project_in_scope_or_404
from tickets.attachments import AttachmentError
from tickets.models import Attachment
from tickets.modifications import forms, kinds, queries, services
from tickets.modifications.models import ChangeRequest
from tickets.modifications.services import ModificationError
from tickets.modifications.states import STATE_LABELS, State
from tickets.views.public import incoming_files, send_attachment

bp = Blueprint("modifications_portal", __name__, url_prefix="/portail", template_folder="../templates")
PER_PAGE = 25


def _limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC_FORM"]


def _person_id() -> int | None:
    return profiles_of(current_user).person_id


def load_request(request_id: int) -> ChangeRequest:
    """The request if the user's scope reaches it, else 404."""
    item = queries.request_in_scope(profiles_of(current_user), current_user.id, request_id)
    if item is None:
        abort(404)
    return item


def project_section(project, user) -> Markup | None:
    """The project sheet's block: the forms the user may file, and the project's requests."""
    profiles = profiles_of(user)
    filings = services.filings_of(profiles.person_id, project)
    requests = db.session.scalars(queries.portal_requests(profiles, user.id, project_id=project.id).limit(50)).all()
    return Markup(render_template("modifications/_project_section.html", project=project,  # noqa: S704
                                  may_file=bool(filings), kinds=kinds.KIND_ORDER, labels=kinds.KIND_LABELS,
                                  requests=requests))


def _render_form(item: ChangeRequest | None, form, status: int = 200, *, project=None, kind: str | None = None):
    """The form page of a new request (project and kind given) or of a draft (item)."""
    project, kind = (item.project, item.kind) if item is not None else (project, kind)
    co_validation = kinds.needs_co_validation(kind, item.filer_role if item else "scientific_lead")
    return render_template("modifications/form.html", form=form, project=project, kind=kind, item=item,
                           spec=kinds.SPECS[kind], label=kinds.KIND_LABELS[kind],
                           facts=services.project_facts(project),
                           next_steps=kinds.next_steps(kind, co_validation)), status


def _save_or_submit(item: ChangeRequest, form):
    """The two buttons: file the request (a refusal rolls everything back, the page comes again with the input
    kept, 422), or keep the draft (with what parses; its errors shown on a page that still commits, 200)."""
    raw = forms.data_fields(form)
    if form.submit.data:
        try:
            ticket = services.submit_request(item, raw, forms.uploaded_documents(form), by=current_user)
        except (ModificationError, AttachmentError) as error:
            db.session.rollback()
            forms.show_errors(form, getattr(error, "errors", {}))
            flash(str(error) + " " + _("Les documents que vous venez de choisir sont à joindre de nouveau ; "
                                       "ceux du brouillon sont conservés."), "error")
            return _render_form(None if item.id is None else load_request(item.id), form, 422)
        flash(_("Votre demande est déposée sous la référence %(reference)s.", reference=ticket.reference), "success")
        return redirect(url_for(".show", request_id=item.id))
    errors = services.save_draft(item, raw, by=current_user, files=forms.uploaded_documents(form))
    flash(_("Brouillon enregistré : vous pouvez le reprendre plus tard depuis le tableau de suivi."), "success")
    if errors:
        forms.show_errors(form, errors)
        return _render_form(item, form, 200)
    return redirect(url_for(".show", request_id=item.id))


@bp.route("/projets/<reference>/modifications/<kind>", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit, methods=["POST"])
def new(reference: str, kind: str):
    """A new request of one kind on a project in scope, pre-filled; saved as a draft or filed."""
    project = project_in_scope_or_404(profiles_of(current_user), reference)
    if kind not in kinds.SPECS:
        abort(404)
    filings = services.filings_of(_person_id(), project)
    if not filings:
        abort(403)
    facts = services.project_facts(project)
    form_class = forms.request_form_class(kind, facts)
    form = form_class(data=kinds.prefill(kind, facts, filings[0].partner.number)) if request.method == "GET" \
        else form_class()
    if form.validate_on_submit():
        item = services.start_draft(project, kind, filer=current_user, person_id=_person_id())
        return _file_new(item, form) if form.submit.data else _save_or_submit(item, form)
    return _render_form(None, form, 422 if request.method == "POST" else 200, project=project, kind=kind)


def _file_new(item: ChangeRequest, form):
    """Filing straight from a new form: a refusal leaves no draft behind (the input is shown again)."""
    project, kind = item.project, item.kind
    raw = forms.data_fields(form)
    try:
        ticket = services.submit_request(item, raw, forms.uploaded_documents(form), by=current_user)
    except (ModificationError, AttachmentError) as error:
        db.session.rollback()
        forms.show_errors(form, getattr(error, "errors", {}))
        flash(str(error) + " " + _("Les documents sont à joindre de nouveau."), "error")
        return _render_form(None, form, 422, project=project, kind=kind)
    flash(_("Votre demande est déposée sous la référence %(reference)s.", reference=ticket.reference), "success")
    return redirect(url_for(".show", request_id=item.id))


@bp.route("/modifications/<int:request_id>", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit, methods=["POST"])
def show(request_id: int):
    """A request: its form while it is the filer's draft, else its data, documents, history and actions."""
    item = load_request(request_id)
    mine = item.filer_id == current_user.id
    if item.state == State.DRAFT and mine:
        form_class = forms.request_form_class(item.kind, services.project_facts(item.project))
        form = form_class(data=item.data) if request.method == "GET" else form_class()
        if form.validate_on_submit():
            return _save_or_submit(item, form)
        if request.method == "POST":
            flash(_("La session a expiré : veuillez renvoyer le formulaire."), "error")
        return _render_form(item, form, 422 if request.method == "POST" else 200)
    if request.method == "POST":
        abort(405)
    return render_detail(item)


def render_detail(item: ChangeRequest, status: int = 200, **given):
    person_id = _person_id()
    return render_template(
        "modifications/detail.html", item=item, spec=kinds.SPECS[item.kind], labels=kinds.FIELD_LABELS,
        choices=kinds.CHOICE_LABELS, is_filer=item.filer_id == current_user.id,
        is_co_validator=person_id is not None and person_id == item.co_validator_person_id,
        reason_form=given.get("reason_form") or forms.ReasonForm(),
        information_form=given.get("information_form") or forms.InformationForm(),
        history=history(item), documents=_documents(item), replyable=item.state in services.REPLYABLE,
    ), status


def history(item: ChangeRequest) -> list[dict]:
    """The request's steps from its ticket's events: who, when, from which state to which."""
    if item.ticket is None:
        return []
    return [{"at": e.created_at, "actor": e.actor.name if e.actor else _("Guichet (automatique)"),
             "before": STATE_LABELS.get(e.data.get("before"), ""), "after": STATE_LABELS.get(e.data.get("after"), ""),
             "reason": e.data.get("reason", "")}
            for e in item.ticket.events if e.kind == "modification"]


def _documents(item: ChangeRequest) -> list[tuple[dict, Attachment | None]]:
    if item.ticket is None:
        return []
    by_sha = {a.sha256: a for m in item.ticket.public_messages for a in m.attachments}
    return [(d, by_sha.get(d["sha256"])) for d in item.documents]


@bp.get("/modifications/<int:request_id>/documents/<int:attachment_id>")
@login_required
def document(request_id: int, attachment_id: int):
    """A document of a request in scope (only the request's own public attachments)."""
    item = load_request(request_id)
    attachment = next((a for m in (item.ticket.public_messages if item.ticket else []) for a in m.attachments
                       if a.id == attachment_id), None)
    if attachment is None:
        abort(404)
    return send_attachment(attachment)


def _act(item: ChangeRequest, action, form):
    if not form.validate_on_submit():
        flash(_("Le formulaire contient des erreurs : rien n'a été modifié."), "error")
        return render_detail(item, 422, **{type(form).__name__.replace("Form", "_form").lower(): form})
    try:
        message = action()
    except (ModificationError, AttachmentError) as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_detail(load_request(item.id), 422)
    flash(message, "success")
    return redirect(url_for(".show", request_id=item.id))


@bp.post("/modifications/<int:request_id>/co-validation")
@login_required
def co_validation(request_id: int):
    """The designated other party co-validates, or sends the request back with a reason."""
    item = load_request(request_id)
    form = forms.ReasonForm()

    def action():
        if request.form.get("decision") == "decline":
            services.decline_co_validation(item, by=current_user, person_id=_person_id(), reason=form.reason.data or "")
            return _("La demande est renvoyée à son auteur.")
        services.co_validate(item, by=current_user, person_id=_person_id())
        return _("Demande co-validée : elle est transmise à l'agence.")

    return _act(item, action, form)


@bp.post("/modifications/<int:request_id>/complements")
@login_required
def information(request_id: int):
    """The filer answers the agency's request for information."""
    item = load_request(request_id)
    form = forms.InformationForm()

    def action():
        services.provide_information(item, by=current_user, body=form.body.data,
                                     files=incoming_files(form.attachments.data))
        return _("Vos compléments sont transmis à l'agence.")

    return _act(item, action, form)


@bp.post("/modifications/<int:request_id>/message")
@login_required
def reply(request_id: int):
    """The filer writes to the agency about its decision."""
    item = load_request(request_id)
    form = forms.InformationForm()

    def action():
        services.reply_after_decision(item, by=current_user, body=form.body.data,
                                      files=incoming_files(form.attachments.data))
        return _("Votre message est transmis à l'agence.")

    return _act(item, action, form)


@bp.post("/modifications/<int:request_id>/retrait")
@login_required
def withdraw(request_id: int):
    """The filer withdraws the request."""
    item = load_request(request_id)

    def action():
        services.withdraw_request(item, by=current_user)
        return _("La demande est retirée.")

    return _act(item, action, forms.ReasonForm())


@bp.get("/modifications")
@login_required
def tracking():
    """The tracking table: the requests of the projects in scope, their state and dates."""
    state = request.args.get("etat") or None
    if state is not None and state not in set(State):
        state = None
    query = queries.portal_requests(profiles_of(current_user), current_user.id, state=state)
    page = max(request.args.get("page", 1, int), 1)
    # The next-page probe instead of a count: counting a headquarters' thousands of requests cost more than the page.
    items = db.session.scalars(query.limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).all()
    return render_template("modifications/tracking.html", requests=items[:PER_PAGE], has_next=len(items) > PER_PAGE,
                           page=page, state=state, states=STATE_LABELS, args={"etat": state} if state else {})
