"""The assistant's pages (/aide/assistant): each turn a form post, then a redirect to the conversation (PRG).

A conversation opens for the account that started it, or in the browser whose session holds it (its secret key
in a ``?cle=`` link is exchanged for the session, then removed from the URL, as on the follow page); anything
else is the same 404. The handover is the request form (tickets.views.public) with ``?conversation=``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from crm.core import registry
from crm.core.extensions import db, limiter
from crm.core.security import roles_required
from expert import conversations
from expert import demo as expert_demo
from expert.models import CONVERSATION_STATUS_LABELS, AssistantConversation, TurnKind
from knowledge_base.documents.models import DocumentPassage, DocumentVersion
from knowledge_base.index import today
from knowledge_base.models import Article
from knowledge_base.rendering import render_markdown
from tickets.assistant import ACCESS_SESSION_KEY, load_conversation, remember_conversation
from tickets.forms import AssistantChoiceForm, AssistantQuestionForm, PeriodForm
from tickets.views.manager import DEFAULT_DAYS
from tickets.views.public import own_projects
from tickets.views.triage import EXPERT_MANAGERS

bp = Blueprint("assistant", __name__, url_prefix="/aide/assistant")

def _limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC_FORM"]


def _project_context() -> tuple[str | None, str | None]:
    """The call and state of the signed-in person's only project (the assistant's context), else nothing."""
    projects = own_projects()
    return (projects[0].call_code, projects[0].state) if len(projects) == 1 else (None, None)


def _go(conversation: AssistantConversation):
    """After a turn: the conversation, at its last reply (303: the browser GETs it)."""
    last = conversations.last_turn(conversation)
    anchor = f"#tour-{last.position}" if last is not None else ""
    return redirect(url_for(".conversation", public_id=conversation.public_id) + anchor, code=303)


def _ask(conversation: AssistantConversation, form: AssistantQuestionForm):
    call, state = _project_context()
    try:
        conversations.ask(conversation, form.question.data, project_call=call, project_state=state)
    except conversations.ConversationError as error:
        db.session.rollback()
        flash(str(error), "error")
        return None
    return True


@bp.post("")
@limiter.limit(_limit)
def start():
    """The first question: a new conversation (owned by the account when signed in), then its page."""
    form = AssistantQuestionForm()
    if not form.validate_on_submit() or form.website.data:
        if form.website.data:
            flash(_("Votre question n'a pas pu être envoyée. Veuillez réessayer."), "error")
        return render_template("tickets/assistant.html", conversation=None, form=form, **_page_context(None)), 422
    user = current_user if current_user.is_authenticated else None
    conversation, key = conversations.start_conversation(user=user)
    if _ask(conversation, form) is None:
        return redirect(url_for("kb.help_home"), code=303)
    remember_conversation(conversation, key)
    return _go(conversation)


@bp.get("/<public_id>")
def conversation(public_id: str):
    """The conversation; a ``?cle=`` key is exchanged for the session and removed from the URL."""
    key = request.args.get("cle")
    if key is not None:
        found = conversations.conversation_by_public_id(public_id)
        if found is not None and conversations.key_opens(found, key):
            remember_conversation(found, key)
        return redirect(url_for(".conversation", public_id=public_id))
    item = load_conversation(public_id)
    return render_template("tickets/assistant.html", conversation=item, form=AssistantQuestionForm(),
                           **_page_context(item))


@bp.post("/<public_id>/question")
@limiter.limit(_limit)
def question(public_id: str):
    """Another question in the same conversation."""
    item = load_conversation(public_id)
    form = AssistantQuestionForm()
    if not form.validate_on_submit() or form.website.data:
        return render_template("tickets/assistant.html", conversation=item, form=form, **_page_context(item)), 422
    _ask(item, form)
    return _go(item)


@bp.post("/<public_id>/choix")
@limiter.limit(_limit)
def choose(public_id: str):
    """One click on an option of the clarifying question."""
    item = load_conversation(public_id)
    form = AssistantChoiceForm()
    if not form.validate_on_submit():
        flash(_("Choisissez une des réponses proposées."), "error")
        return _go(item)
    try:
        conversations.choose(item, form.choix.data)
    except conversations.ConversationError as error:
        db.session.rollback()
        flash(str(error), "error")
        item = load_conversation(public_id)
    return _go(item)


@bp.post("/<public_id>/resolue")
@limiter.limit(_limit)
def resolve(public_id: str):
    """« Ma question est résolue »: the conversation ends without a request."""
    item = load_conversation(public_id)
    try:  # CSRF: every POST is checked by crm.core.extensions.csrf
        conversations.resolve(item)
    except conversations.ConversationError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Merci ! Nous sommes heureux d'avoir pu vous aider."), "success")
    return _go(load_conversation(public_id))


# --- Rendering ----------------------------------------------------------------------------------------


def _page_context(item: AssistantConversation | None) -> dict:
    """The articles answered with (read once), the come-back link and the request the conversation opened."""
    if item is None:
        return {"articles": {}, "passages": {}, "come_back": None, "ticket": None, "day": today()}
    ids = {t.article_id for t in item.turns if t.kind == TurnKind.ANSWER and t.article_id}
    articles = {a.id: a for a in db.session.scalars(db.select(Article).where(Article.id.in_(ids)))} if ids else {}
    quoted = {t.passage_id for t in item.turns if t.kind == TurnKind.PASSAGE and t.passage_id}
    passages = {p.id: p for p in db.session.scalars(db.select(DocumentPassage).where(DocumentPassage.id.in_(quoted))
                                                    .options(joinedload(DocumentPassage.version)
                                                             .joinedload(DocumentVersion.document)))} if quoted else {}
    key = session.get(ACCESS_SESSION_KEY, {}).get(item.public_id)
    come_back = url_for(".conversation", public_id=item.public_id, cle=key, _external=True) if key else None
    return {"articles": articles, "passages": passages, "come_back": come_back,
            "ticket": item.ticket if item.ticket_id else None,
            "day": today(), "markdown": render_markdown,
            "days": current_app.config["ASSISTANT_CONVERSATION_DAYS"], "other_call": conversations.OTHER_CALL}


def start_box(compact: bool = False) -> Markup:
    """The box that starts a conversation (on /aide and at the top of the request form)."""
    return Markup(render_template("tickets/_assistant_start.html", form=AssistantQuestionForm(),  # noqa: S704
                                  compact=compact))


def _help_panel() -> Markup:
    return start_box()


# --- What managers see --------------------------------------------------------------------------------


@bp.get("/suivi")
@roles_required(*EXPERT_MANAGERS)
def manager_page():
    """What the assistant did: conversations, resolved, handed over, clarifications, unanswered questions."""
    form = PeriodForm.from_query(request.args, DEFAULT_DAYS)
    if not form.validate():
        return render_template("tickets/assistant_manager.html", form=form, figures=None), 422
    start_at, end_at = form.bounds()
    return render_template("tickets/assistant_manager.html", form=form,
                           figures=conversations.figures(start_at, end_at),
                           items=conversations.recent_conversations(start_at, end_at),
                           status_labels=CONVERSATION_STATUS_LABELS, period=(form.du.data, form.au.data),
                           threshold=float(current_app.config["KB_AUTO_ANSWER_CONFIDENCE"]))


def init_app(app: Flask) -> None:
    """Register the assistant's pages, its box on the help page, the managers' menu entry and the demo conversations
    (seeded by the tickets package, as the expert module's other demo data)."""
    app.register_blueprint(bp)
    registry.add_help_panel(app, 10, _help_panel)
    app.add_template_global(start_box, "assistant_start_box")
    registry.add_menu(app, 31, "Assistant", "assistant.manager_page",
                      lambda u: u.is_authenticated and u.has_role(*EXPERT_MANAGERS))
    registry.add_seeder(app, 36, "assistant : conversations de démonstration", expert_demo.seed_conversations)
