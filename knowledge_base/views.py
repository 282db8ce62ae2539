"""Public help pages (/aide) and the staff editing pages of the knowledge base (/gestion/articles)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core import registry
from crm.core.extensions import db, limiter
from crm.core.security import roles_required
from knowledge_base import services
from knowledge_base.forms import TOPIC_LABELS, ArticleForm, HelpSearchForm
from knowledge_base.index import search_articles, today
from knowledge_base.models import STATUS_LABELS, Article, ArticleRevision, ArticleStatus
from knowledge_base.rendering import plain_excerpt, render_markdown

public = Blueprint("kb", __name__, url_prefix="/aide", template_folder="templates")
staff = Blueprint("kb_admin", __name__, url_prefix="/gestion/articles", template_folder="templates")

MAX_SUGGESTIONS = 5


def _suggestions_limit() -> str:
    return current_app.config["RATELIMIT_KB_SUGGESTIONS"]


# -- public pages ------------------------------------------------------------------------------


@public.get("")
def help_home():
    """Browse published articles by topic, or search them."""
    form = HelpSearchForm(request.args)
    query = (form.q.data or "").strip() if form.validate() else ""
    theme = form.theme.data if form.theme.data in TOPIC_LABELS else None
    results = search_articles(query, k=10, topic=theme, language=None, min_relative_score=0.5) if query else []
    by_topic: dict[str, list[Article]] = {}
    if not query:
        statement = services.offered_articles_query(today(), topic=theme).order_by(Article.question)
        for article in db.session.scalars(statement):
            by_topic.setdefault(article.topic or "autre", []).append(article)
    topics = [(slug, label, by_topic[slug]) for slug, label in TOPIC_LABELS.items() if slug in by_topic]
    return render_template("knowledge_base/help.html", form=form, query=query, results=results, topics=topics,
                           excerpt=plain_excerpt, panels=registry.help_panels(current_app))


@public.get("/suggestions")
@limiter.limit(_suggestions_limit)
def suggestions():
    """JSON: the best published articles for a text being typed (used by the request form)."""
    query = (request.args.get("q") or "").strip()[:500]
    call = (request.args.get("appel") or "").strip() or None
    try:
        k = max(1, min(int(request.args.get("k", 3)), MAX_SUGGESTIONS))
    except ValueError:
        k = 3
    items = []
    if len(query) >= 3:
        for article, match in search_articles(query, k=k, call=call, min_relative_score=0.5):
            items.append({"id": article.external_id, "title": article.question,
                          "url": url_for("kb.article", external_id=article.external_id),
                          "topic": article.topic, "confidence": round(match.confidence, 3),
                          "excerpt": plain_excerpt(article.answer, 160)})
    response = jsonify(query=query, suggestions=items)
    response.headers["Cache-Control"] = "no-store"
    return response


@public.get("/<external_id>")
def article(external_id: str):
    """An article's page; staff may preview articles that are not offered."""
    item = services.article_by_external_id(external_id)
    if item is None:
        abort(404)
    if not item.is_offered_on(today()) and not services.can_propose_articles(current_user):
        abort(404)
    return render_template("knowledge_base/article.html", article=item, answer=render_markdown(item.answer),
                           topic_label=TOPIC_LABELS.get(item.topic or ""))


# -- staff pages -------------------------------------------------------------------------------

proposer_required = roles_required(*services.PROPOSER_ROLES)
editor_required = roles_required(*services.EDITOR_ROLES)


def _article_or_404(article_id: int) -> Article:
    item = db.session.get(Article, article_id)
    if item is None:
        abort(404)
    return item


@staff.get("")
@proposer_required
def index():
    """List articles with filters on status, topic and text."""
    status = request.args.get("statut") or None
    topic = request.args.get("theme") or None
    text = (request.args.get("q") or "").strip()
    statement = services.staff_articles_query(status=status if status in set(ArticleStatus) else None,
                                              topic=topic if topic in TOPIC_LABELS else None, text=text)
    page = db.paginate(statement, per_page=25, error_out=False)
    return render_template("knowledge_base/admin_list.html", page=page, status=status, topic=topic, text=text,
                           topics=TOPIC_LABELS, statuses=STATUS_LABELS,
                           can_edit=services.can_edit_articles(current_user))


@staff.route("/nouveau", methods=["GET", "POST"])
@proposer_required
def create():
    """Write a new article (a draft: publishing is a separate step), pre-filled from a gap's questions if given."""
    form = ArticleForm()
    if request.method == "GET":
        form.question.data = (request.args.get("question") or "").strip()[:500]
        form.phrasings.data = (request.args.get("formulations") or "").strip()[:10000]
    if form.validate_on_submit():
        try:
            item = services.create_article({**form.content(), "status": ArticleStatus.DRAFT}, current_user,
                                           comment=form.comment.data)
        except services.ArticleError as error:
            flash(str(error), "error")
        else:
            flash(_("Brouillon enregistré."), "success")
            return redirect(url_for("kb_admin.detail", article_id=item.id))
    return render_template("knowledge_base/admin_form.html", form=form, article=None)


@staff.get("/<int:article_id>")
@proposer_required
def detail(article_id: int):
    """An article with its preview and revision history."""
    item = _article_or_404(article_id)
    return render_template("knowledge_base/admin_detail.html", article=item, answer=render_markdown(item.answer),
                           revisions=item.revisions.all(), topic_label=TOPIC_LABELS.get(item.topic or ""),
                           action_labels=services.REVISION_ACTION_LABELS,
                           can_edit=services.can_edit_article(current_user, item),
                           can_publish=services.can_edit_articles(current_user))


@staff.route("/<int:article_id>/modifier", methods=["GET", "POST"])
@proposer_required
def edit(article_id: int):
    """Edit an article; each saved change is a new revision."""
    item = _article_or_404(article_id)
    if not services.can_edit_article(current_user, item):
        abort(403)
    form = ArticleForm()
    if request.method == "GET":
        form.fill(item)
    if form.validate_on_submit():
        try:
            changed = services.update_article(item, form.content(), current_user, comment=form.comment.data)
        except services.ArticleError as error:
            flash(str(error), "error")
        else:
            flash(_("Modification enregistrée.") if changed else _("Aucune modification."), "success")
            return redirect(url_for("kb_admin.detail", article_id=item.id))
    return render_template("knowledge_base/admin_form.html", form=form, article=item)


@staff.post("/<int:article_id>/publier")
@editor_required
def publish(article_id: int):
    item = _article_or_404(article_id)
    try:
        services.publish_article(item, current_user)
    except services.ArticleError as error:
        flash(str(error), "error")
    else:
        flash(_("Article publié : il est proposé aux demandeurs d'ici quelques secondes."), "success")
    return redirect(url_for("kb_admin.detail", article_id=item.id))


@staff.post("/<int:article_id>/archiver")
@editor_required
def archive(article_id: int):
    item = _article_or_404(article_id)
    try:
        services.archive_article(item, current_user)
    except services.ArticleError as error:
        flash(str(error), "error")
    else:
        flash(_("Article archivé : il n'est plus proposé."), "success")
    return redirect(url_for("kb_admin.detail", article_id=item.id))


def _revision_or_404(item: Article, number: int) -> ArticleRevision:
    revision = item.revisions.filter(ArticleRevision.number == number).first()
    if revision is None:
        abort(404)
    return revision


@staff.get("/<int:article_id>/versions/<int:number>")
@proposer_required
def revision(article_id: int, number: int):
    """One revision and what changed from the previous one."""
    item = _article_or_404(article_id)
    current = _revision_or_404(item, number)
    before = services.previous_revision(current)
    changes = services.revision_changes(before.content() if before else None, current.content())
    return render_template("knowledge_base/admin_revision.html", article=item, revision=current, before=before,
                           changes=changes, can_restore=services.can_edit_articles(current_user),
                           action_labels=services.REVISION_ACTION_LABELS)


@staff.post("/<int:article_id>/versions/<int:number>/restaurer")
@editor_required
def restore(article_id: int, number: int):
    item = _article_or_404(article_id)
    current = _revision_or_404(item, number)
    if services.restore_revision(item, current, current_user):
        flash(_("Le contenu de la version %(n)s a été rétabli.", n=number), "success")
    else:
        flash(_("Cette version est identique au contenu actuel."), "info")
    return redirect(url_for("kb_admin.detail", article_id=item.id))


# -- registration ------------------------------------------------------------------------------


def _help_card(_user) -> dict:
    return {"title": _("Questions fréquentes"),
            "text": _("Dépôt, éligibilité, calendrier, financement : les réponses aux questions les plus posées."),
            "url": url_for("kb.help_home")}


def init_app(app: Flask) -> None:
    """Register the blueprints, the menu entries and the home card."""
    app.register_blueprint(public)
    app.register_blueprint(staff)
    app.add_template_filter(render_markdown, "markdown")
    app.add_template_global(STATUS_LABELS, "kb_status_labels")
    registry.add_menu(app, 4, "Aide", "kb.help_home", lambda user: True)
    registry.add_menu(app, 40, "Base de connaissances", "kb_admin.index", services.can_propose_articles)
    registry.add_home_card(app, 5, _help_card)
