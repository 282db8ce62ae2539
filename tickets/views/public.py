"""Requester side: the public request form and the follow-up page (secret link or login)."""

from __future__ import annotations

from contextlib import suppress

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.core import registry
from crm.core.extensions import db, limiter
from crm.core.i18n import paris_today
from crm.core.services import is_own_email
from crm.organisations import queries as organisation_queries
from crm.projects import queries as project_queries
from crm.projects.models import Project
from expert import services as expert
from expert.calls import call_catalogue, selectable_calls
from knowledge_base import services as kb_services
from tickets import assistant, follow_links, queries, services, workflow
from tickets.attachments import SNIFF_BYTES, AttachmentError, IncomingFile, inline_type, stored_path
from tickets.community import services as community
from tickets.forms import NewLinkForm, RequesterReplyForm, RequestForm
from tickets.models import Attachment, AuthorKind, Status, Ticket, Topic

bp = Blueprint("tickets_public", __name__, template_folder="../templates", static_folder="../static",
               static_url_path="/static/tickets")

#: Session keys: tickets opened by their secret link, and the confirmation shown once after submitting.
ACCESS_SESSION_KEY = "tickets.access"
CREATED_SESSION_KEY = "tickets.created"
ACCESS_REMEMBERED = 20


def incoming_files(storages) -> list[IncomingFile]:
    """Convert werkzeug FileStorage objects into IncomingFile (empty file inputs are skipped)."""
    files = []
    for storage in storages or ():
        if storage is None or not getattr(storage, "filename", ""):
            continue
        files.append(IncomingFile(filename=storage.filename, content=storage.read(),
                                  content_type=storage.mimetype or None))
    return files


def auto_answer_articles(ticket: Ticket) -> dict[int, dict]:
    """The article behind each automatic answer of the ticket (by message id): its question and public link.

    The answer message and its "auto_answer" event are written at the same instant; an article no longer offered
    gets no link (its page would answer 404); a quoted passage of a call document is rendered with no article."""
    sent = {e.created_at: e.data or {} for e in ticket.events if e.kind == "auto_answer"}
    found = {}
    for message in ticket.public_messages:
        data = sent.get(message.created_at, {}) if message.author_kind == AuthorKind.SYSTEM else {}
        if data.get("passage"):  # a quoted passage of a call document: its Markdown carries the link
            found[message.id] = {"question": "", "url": None}
            continue
        external_id = data.get("article")
        article = kb_services.article_by_external_id(external_id) if external_id else None
        if article is not None:
            offered = article.is_offered_on(paris_today())
            found[message.id] = {"question": article.question,
                                 "url": url_for("kb.article", external_id=article.external_id) if offered else None}
    return found


def topic_label(topic: Topic) -> str:
    """A topic's label in the user's language."""
    return topic.label_en if str(get_locale()) == "en" and topic.label_en else topic.label


def topic_choices() -> list[tuple[str, str]]:
    """Active topics in their display order, labelled in the user's language."""
    return [(t.slug, topic_label(t)) for t in queries.active_topics()]


def _remember_access(ticket: Ticket) -> None:
    granted = [i for i in session.get(ACCESS_SESSION_KEY, []) if i != ticket.id]
    session[ACCESS_SESSION_KEY] = (granted + [ticket.id])[-ACCESS_REMEMBERED:]


def requester_may_see(ticket: Ticket) -> bool:
    """The secret link was used in this session, or the logged-in requester owns the ticket."""
    if ticket.id in session.get(ACCESS_SESSION_KEY, []):
        return True
    if current_user.is_authenticated:
        return queries.requester_owns(current_user, ticket)
    return False


def load_requester_ticket(reference: str) -> Ticket:
    """The ticket, if this visitor may follow it; otherwise 404 (its existence is never revealed)."""
    ticket = services.ticket_by_reference(reference) if len(reference) <= 20 else None
    if ticket is None or not requester_may_see(ticket):
        abort(404)
    return ticket


def _staff() -> bool:
    return current_user.is_authenticated and current_user.is_staff


def _public_form_limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC_FORM"]


@bp.route("/demande", methods=["GET", "POST"])
@limiter.limit(_public_form_limit, methods=["POST"])
def new_request():
    """The request form: anyone may submit; logged-in users find their name and address filled in."""
    form = RequestForm()
    form.topic.choices = [("", _("Sélectionnez un thème"))] + topic_choices()
    form.call.choices = call_choices()
    projects = own_projects()
    if projects:
        form.project.choices = [("", _("Aucun de ces projets"))] + [
            (p.reference, f"{p.acronym} — {p.reference}") for p in projects]
    if request.method == "GET" and current_user.is_authenticated:
        form.name.data = current_user.name
        form.email.data = current_user.email
    if request.method == "GET" and len(projects) == 1:  # the call of their only project, pre-filled
        form.call.data = project_call_choice(projects[0])
    conversation = _handed_conversation(form)
    if request.method == "GET":
        if conversation is not None:  # « Poser ma question à un conseiller »: what the assistant understood
            suggested = assistant.suggested_fields(conversation)
            form.conversation.data = conversation.public_id
            form.subject.data, form.message.data = suggested["subject"], suggested["message"]
            form.topic.data = suggested["topic"] if suggested["topic"] in dict(form.topic.choices) else ""
            if suggested["call"] in dict(form.call.choices):
                form.call.data = suggested["call"]
        return render_template("tickets/request_form.html", form=form, conversation=conversation)
    files = incoming_files(form.attachments.data) if form.attachments.data else []
    if not form.validate_on_submit():
        return _render_request_form(form, files)
    if form.website.data:  # the honeypot: only robots fill it
        flash(_("Votre demande n'a pas pu être envoyée. Veuillez réessayer."), "error")
        return _render_request_form(form, files)
    if form.project.data and form.project.data not in {p.reference for p in projects}:
        form.project.errors = [_("Choisissez un de vos projets dans la liste.")]
        return _render_request_form(form, files)
    user = current_user if current_user.is_authenticated else None
    owner = user if user is not None and is_own_email(user, form.email.data) else None
    fields = {"subject": form.subject.data, "requester_email": form.email.data, "requester_name": form.name.data,
              "requester": owner, "topic": form.topic.data, "attachments": files, "locale": str(get_locale()),
              "project_reference": form.project.data or form.project_reference.data or None}
    try:
        if conversation is not None:  # opened from the assistant: the conversation is attached, the SLA starts now
            ticket, key = assistant.open_request(conversation, body=form.message.data, call=form.call.data or None,
                                                 **fields)
        else:
            with expert.stated_call(form.call.data or None):  # triage reads the call chosen on the form
                ticket, key = workflow.create_ticket(body=form.message.data, **fields)
    except AttachmentError as error:
        db.session.rollback()
        form.attachments.errors = [str(error)]
        return _render_request_form(form, files)
    except services.TicketError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _render_request_form(form, files)
    if form.community.data:  # in the submission's transaction: no request without the consent it was sent with
        with suppress(community.CommunityError):  # answered at once: the follow page offers it again if reopened
            community.give_consent(ticket, by=owner)
    _remember_access(ticket)
    session[CREATED_SESSION_KEY] = {
        "reference": ticket.reference,
        "link": url_for(".follow", reference=ticket.reference, cle=key, _external=True),
        "email": ticket.requester_email,
    }
    return redirect(url_for(".request_sent"))


def _handed_conversation(form: RequestForm):
    """The open conversation with the assistant this request comes from (``?conversation=`` then the hidden
    field), if this visitor may see it; 404 otherwise, as on the conversation's own page."""
    public_id = (form.conversation.data if request.method == "POST" else request.args.get("conversation")) or ""
    if not public_id:
        return None
    conversation = assistant.load_conversation(public_id.strip()[:40])
    if conversation.status != "open":
        abort(404)
    return conversation


def call_choices() -> list[tuple[str, str]]:
    """The calls a requester may name on the form (open ones first); empty: the project's call, or not known."""
    return [("", _("Celui de mon projet, ou je ne sais pas"))] + [
        (call.code, call.label) for call in selectable_calls(paris_today())]


def project_call_choice(project: Project) -> str | None:
    """The form's value for the project's call (its described code: AAPG-2025 for AAPG2025), if the form offers it."""
    call = call_catalogue().get(project.call_code)
    return call.code if call is not None and call.state is not None else None


def own_projects() -> list[Project]:
    """The active projects of the signed-in person the business systems know (none for visitors and staff)."""
    if not current_user.is_authenticated or current_user.is_staff:
        return []
    person = organisation_queries.person_of_user(current_user.id, current_user.email)
    return project_queries.active_projects_of_person(person.id) if person is not None else []


def _render_request_form(form: RequestForm, files: list[IncomingFile]):
    """The form again with what was typed; files cannot be refilled by the browser, so say so."""
    return render_template("tickets/request_form.html", form=form, files_lost=bool(files),
                           conversation=_handed_conversation(form)), 422


@bp.get("/demande/envoyee")
def request_sent():
    """The confirmation with the reference and the secret link, shown once."""
    created = session.pop(CREATED_SESSION_KEY, None)
    if not created:
        return redirect(url_for(".new_request"))
    return render_template("tickets/request_sent.html", created=created)


@bp.get("/demandes/<reference>")
def follow(reference: str):
    """The follow-up page; a secret key in the URL is exchanged for the session, then removed from the URL.

    Any ``?cle=`` answers the same redirect to the address without it (the key is never echoed in a page); an
    unknown, wrong or expired key, or no access at all, then gives the same 404 page, where a new link is asked.
    """
    if len(reference) > 20:
        abort(404)
    key = request.args.get("cle")
    if key is not None:
        ticket = services.ticket_by_reference(reference)
        if ticket is not None and follow_links.key_opens(ticket, key):
            _remember_access(ticket)
        return redirect(url_for(".follow", reference=reference))
    if _staff():
        return redirect(url_for("tickets_agent.ticket", reference=reference))
    ticket = services.ticket_by_reference(reference)
    if ticket is None or not requester_may_see(ticket):
        return _render_link_lost(reference, NewLinkForm())
    return _render_follow(ticket, RequesterReplyForm())


def _render_link_lost(reference: str, form: NewLinkForm, status: int = 404):
    """The page of a link that opens nothing: the same whether the request exists, the key is wrong or expired."""
    return render_template("tickets/follow_link_lost.html", reference=reference, form=form,
                           days=current_app.config["FOLLOW_LINK_DAYS"]), status


def _follow_link_limit() -> str:
    return current_app.config["RATELIMIT_FOLLOW_LINK"]


@bp.post("/demandes/<reference>/nouveau-lien")
@limiter.limit(_follow_link_limit)
def ask_new_link(reference: str):
    """Send a new follow link to the request's own address; the answer never says whether the address matched."""
    if len(reference) > 20:
        abort(404)
    form = NewLinkForm()
    if not form.validate_on_submit():
        return _render_link_lost(reference, form, 422)
    follow_links.send_new_link(services.ticket_by_reference(reference), form.email.data)
    return redirect(url_for(".new_link_sent", reference=reference))


@bp.get("/demandes/<reference>/nouveau-lien")
def new_link_sent(reference: str):
    """The one answer to a request for a new link."""
    if len(reference) > 20:
        abort(404)
    return render_template("tickets/follow_link_sent.html", reference=reference,
                           minutes=current_app.config["FOLLOW_LINK_RESEND_MINUTES"])


def _render_follow(ticket: Ticket, form: RequesterReplyForm, status: int = 200):
    can_reply = ticket.status != Status.CLOSED and (
        ticket.status != Status.RESOLVED or services.within_reopen_window(ticket)
    )
    merged_into = ticket.merged_into.reference if ticket.merged_into is not None else None
    return render_template(
        "tickets/follow.html", ticket=ticket, form=form, can_reply=can_reply, merged_into=merged_into,
        answers=auto_answer_articles(ticket),
        attachment_url=lambda a: url_for(".download", reference=ticket.reference, attachment_id=a.id),
    ), status


@bp.post("/demandes/<reference>/repondre")
@limiter.limit(_public_form_limit)
def reply(reference: str):
    """The requester answers; a waiting or recently resolved ticket reopens."""
    ticket = load_requester_ticket(reference)
    form = RequesterReplyForm()
    if not form.validate_on_submit():
        return _render_follow(ticket, form, 422)
    author = current_user if current_user.is_authenticated else None
    try:
        workflow.add_requester_reply(ticket, body=form.body.data, author=author,
                                     attachments=incoming_files(form.attachments.data))
    except (services.TicketError, AttachmentError) as error:
        db.session.rollback()
        flash(str(error), "error")
        ticket = load_requester_ticket(reference)
        return _render_follow(ticket, form, 422)
    flash(_("Votre réponse a été envoyée."), "success")
    return redirect(url_for(".follow", reference=ticket.reference) + "#echanges")


@bp.get("/demandes/<reference>/pieces-jointes/<int:attachment_id>")
def download(reference: str, attachment_id: int):
    """An attachment of a public message, for whoever may follow the ticket."""
    if _staff():
        ticket = services.ticket_by_reference(reference) if len(reference) <= 20 else None
        if ticket is None:
            abort(404)
    else:
        ticket = load_requester_ticket(reference)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.message.ticket_id != ticket.id or attachment.message.internal:
        abort(404)
    return send_attachment(attachment)


def send_attachment(attachment: Attachment):
    """Send a stored attachment as a download; with ``?apercu=1``, shown in the browser when its content is an
    image or a PDF (sniffed, tickets.attachments.inline_type), sandboxed and never type-guessed by the browser."""
    path = stored_path(attachment.sha256)
    if not path.is_file():
        abort(404)
    shown = None
    if request.args.get("apercu") == "1":
        with path.open("rb") as handle:
            shown = inline_type(handle.read(SNIFF_BYTES))
    response = send_file(path, mimetype=shown or attachment.content_type, as_attachment=shown is None,
                         download_name=attachment.filename, max_age=0)
    # no script, form or same-origin access (nosniff: crm.core.security sets it on every response)
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.get("/mes-demandes")
@login_required
def my_requests():
    """The logged-in requester's tickets; staff go to the queue."""
    if _staff():
        return redirect(url_for("tickets_agent.queue"))
    tickets = queries.requester_tickets(user_id=current_user.id, email=current_user.email)
    return render_template("tickets/my_requests.html", tickets=tickets)


def _home_card(user):
    if getattr(user, "is_staff", False):
        return None
    return {"title": _("Poser une question"), "text": _("Écrivez à l'agence : vous recevrez une référence "
                                                      "et un lien pour suivre votre demande."),
            "url": url_for("tickets_public.new_request")}


def _my_requests_card(user):
    if not user.is_authenticated or user.is_staff:
        return None
    return {"title": _("Mes demandes"), "text": _("Suivez vos demandes et répondez à l'agence."),
            "url": url_for("tickets_public.my_requests")}


def init_app(app: Flask) -> None:
    """Register the requester pages, their menu entries and home-page cards."""
    app.register_blueprint(bp)
    app.add_template_global(topic_label, "topic_label")
    registry.add_menu(app, 5, "Poser une question", "tickets_public.new_request",
                      lambda u: not (u.is_authenticated and u.is_staff))
    registry.add_menu(app, 6, "Mes demandes", "tickets_public.my_requests",
                      lambda u: u.is_authenticated and not u.is_staff)
    registry.add_home_card(app, 10, _home_card)
    registry.add_home_card(app, 11, _my_requests_card)
