"""Turn an agent's public reply into a draft article in one click (référents, managers, administrators)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core import registry
from crm.core.extensions import db
from crm.core.security import roles_required
from knowledge_base import services as kb_services
from tickets.community import queries as community_queries
from tickets.community.anonymise import anonymise
from tickets.models import AuthorKind, Message, Ticket
from tickets.views.agent import load_ticket

bp = Blueprint("tickets_drafts", __name__, url_prefix="/agent/demandes", template_folder="../templates")

#: The panel lists at most this many replies, the latest first.
MAX_REPLIES = 5


def _replies(ticket: Ticket) -> list[Message]:
    """The public replies written by staff, the latest first."""
    return [m for m in reversed(ticket.messages) if m.author_kind == AuthorKind.STAFF and not m.internal]


@bp.post("/<reference>/reponses/<int:message_id>/brouillon")
@roles_required(*kb_services.EDITOR_ROLES)
def draft(reference: str, message_id: int):
    """A draft article from a reply: the ticket's subject as its question, the reply as its answer, the source kept."""
    ticket = load_ticket(reference)
    message = db.session.get(Message, message_id)
    if message is None or message.ticket_id != ticket.id or message.internal or message.author_kind != AuthorKind.STAFF:
        abort(404)
    names = community_queries.requester_names(ticket)
    try:
        article = kb_services.create_article(
            # a knowledge-base article is public: the requester's names and identifiers masked, as for the community
            {"question": anonymise(ticket.subject, names)[:500], "answer": anonymise(message.body, names),
             "status": "draft",
             "meta": {"source": {"kind": "reply", "ticket": ticket.reference, "message_id": message.id,
                                 "author": message.author_name}}},
            current_user, comment=_("Brouillon créé depuis une réponse à la demande %(ref)s", ref=ticket.reference))
    except kb_services.ArticleError as error:
        flash(str(error), "error")
        return redirect(url_for("tickets_agent.ticket", reference=ticket.reference))
    flash(_("Brouillon d'article créé depuis la réponse : relisez-le (sans données personnelles) avant de le "
            "publier."), "success")
    return redirect(url_for("kb_admin.detail", article_id=article.id))


def ticket_panel(ticket: Ticket) -> Markup | None:
    """Side panel of the agent's ticket page: « Créer un brouillon d'article » for each recent reply (editors)."""
    replies = _replies(ticket)[:MAX_REPLIES]
    if not replies or not kb_services.can_edit_articles(current_user):
        return None
    return Markup(render_template("tickets/_drafts_panel.html", ticket=ticket, replies=replies))  # noqa: S704


def init_app(app: Flask) -> None:
    """Register the blueprint and the ticket page's panel."""
    app.register_blueprint(bp)
    registry.add_ticket_panel(app, 65, ticket_panel)
