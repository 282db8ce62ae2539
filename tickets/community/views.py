"""The community space's pages: the experts' questions and answers, the moderation, the designations; the
requester's consent on the follow page and the agent's opening on the ticket page.

Every expert page needs an expert (403 otherwise, tickets.community.queries.is_expert) and loads a question
through the experts' scope (404 outside it); the moderation needs a référent or a manager, the designations a
manager.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from crm.core.extensions import db
from crm.core.forms import EmptyForm
from crm.core.models import Role
from crm.core.security import roles_required, staff_required
from crm.core.services import user_by_email
from crm.organisations.queries import organisation_by_identifier
from tickets import services as tickets
from tickets.community import queries, services
from tickets.community.forms import AnswerForm, ConsentForm, DesignateExpertForm, ModerationForm, TopicFilterForm
from tickets.community.models import AnswerState, CommunityAnswer, CommunityExpert
from tickets.models import ACTIVE_STATUSES, Ticket
from tickets.queries import all_topics
from tickets.views import history
from tickets.views.public import load_requester_ticket, requester_may_see, topic_label

bp = Blueprint("community", __name__, url_prefix="/communaute", template_folder="templates")
tickets_bp = Blueprint("community_tickets", __name__, template_folder="templates")
PER_PAGE = 20


@bp.before_request
@login_required
def _experts_only():
    """Every page of the space needs an expert: 403 for anyone else (login first for visitors)."""
    if not _is_expert(current_user):
        abort(403)


def _is_expert(user) -> bool:
    """queries.is_expert, asked once per request: the menu asks it on every page a signed-in person opens."""
    if "community_expert" not in g:
        g.community_expert = queries.is_expert(user)
    return g.community_expert


def _moderator_only() -> None:
    if not queries.is_moderator(current_user):
        abort(403)


@bp.get("/")
def index():
    """The questions open to the community, anonymised, newest first, by topic; the expert's own answers."""
    form = TopicFilterForm(request.args)
    topics = all_topics()
    form.theme.choices = [("", _("Tous les thèmes"))] + [(str(t.id), topic_label(t)) for t in topics]
    topic_id = int(form.theme.data) if form.validate() and form.theme.data else None
    page = db.paginate(queries.open_questions(topic_id), page=request.args.get("page", 1, int), per_page=PER_PAGE,
                       error_out=False)
    return render_template("community/index.html", form=form, page=page,
                           questions=[queries.anonymous(q) for q in page.items],
                           args={"theme": str(topic_id)} if topic_id else {},
                           mine=[(a, queries.anonymous(a.question)) for a in queries.answers_by(current_user)],
                           moderator=queries.is_moderator(current_user),
                           manager=current_user.has_role(Role.MANAGER))


def _visible_or_404(question_id: int):
    question = queries.visible_question(question_id)
    if question is None:
        abort(404)
    return question


def _render_question(question, form: AnswerForm, status: int = 200):
    return render_template("community/question.html", question=question,
                           view=queries.anonymous(question, queries.question_text(question)), form=form,
                           endorse_form=EmptyForm(), moderator=queries.is_moderator(current_user)), status


@bp.route("/questions/<int:question_id>", methods=["GET", "POST"])
def question(question_id: int):
    """One question, anonymised, with the answers proposed; an expert proposes theirs."""
    item = _visible_or_404(question_id)
    form = AnswerForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _render_question(item, form, 422)
        try:
            services.propose_answer(item, author=current_user, body=form.body.data)
        except services.CommunityError as error:
            form.body.errors = [str(error)]
            return _render_question(item, form, 422)
        flash(_("Votre réponse est proposée : un référent de l'agence la relira avant de la transmettre."), "success")
        return redirect(url_for(".question", question_id=item.id))
    return _render_question(item, form)


def _answer_or_404(answer_id: int) -> CommunityAnswer:
    answer = db.session.get(CommunityAnswer, answer_id)
    if answer is None or queries.visible_question(answer.question_id) is None:
        abort(404)
    return answer


@bp.post("/reponses/<int:answer_id>/soutenir")
def endorse(answer_id: int):
    """+1 on another expert's answer."""
    answer = _answer_or_404(answer_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        done = services.endorse_answer(answer, by=current_user)
    except services.CommunityError as error:
        flash(str(error), "error")
    else:
        flash(_("Vous soutenez cette réponse.") if done else _("Vous soutenez déjà cette réponse."), "success")
    return redirect(url_for(".question", question_id=answer.question_id) + f"#reponse-{answer.id}")


@bp.get("/moderation")
def moderation():
    """The answers waiting for a référent, oldest first."""
    _moderator_only()
    answers = queries.pending_answers()
    return render_template("community/moderation.html", items=[(a, queries.anonymous(a.question)) for a in answers],
                           form=ModerationForm(), forms={})


@bp.post("/reponses/<int:answer_id>/moderer")
def moderate(answer_id: int):
    """Accept (sent to the requester, draft article) or refuse with a reason."""
    _moderator_only()
    answer = _answer_or_404(answer_id)
    form = ModerationForm()
    error = None
    if form.validate_on_submit():
        try:
            if form.decision.data == "accept":
                services.accept_answer(answer, by=current_user)
                flash(_("Réponse transmise au demandeur ; un brouillon d'article a été créé."), "success")
            else:
                services.reject_answer(answer, by=current_user, reason=form.reason.data or "")
                flash(_("Réponse refusée : son auteur voit la raison."), "success")
        except services.CommunityError as refused:
            db.session.rollback()
            error = str(refused)
        else:
            return redirect(url_for(".moderation"))
    if error:
        (form.reason if form.decision.data == "reject" else form.decision).errors = [error]
    answers = queries.pending_answers()
    return render_template("community/moderation.html", items=[(a, queries.anonymous(a.question)) for a in answers],
                           form=ModerationForm(formdata=None), forms={answer_id: form}), 422


@bp.route("/experts", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def experts():
    """The designated experts of member establishments, and a new designation (managers)."""
    form = DesignateExpertForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            user = user_by_email(form.email.data)
            organisation = organisation_by_identifier(form.establishment.data)
            if user is None:
                form.email.errors = [_("Aucun compte n'existe à cette adresse : la personne doit d'abord "
                                       "créer son compte du portail.")]
            if organisation is None:
                form.establishment.errors = [_("Aucun établissement ne porte cet identifiant.")]
            if user is not None and organisation is not None:
                try:
                    services.designate_expert(user, organisation, by=current_user)
                except services.CommunityError as error:
                    form.email.errors = [str(error)]
                else:
                    flash(_("%(name)s est désigné(e) expert(e) de la communauté pour %(org)s.", name=user.name,
                            org=organisation.name), "success")
                    return redirect(url_for(".experts"))
    return render_template("community/experts.html", form=form, experts=queries.experts(),
                           remove_form=EmptyForm()), status


@bp.post("/experts/<int:designation_id>/retirer")
@roles_required(Role.MANAGER)
def remove_expert(designation_id: int):
    designation = db.session.get(CommunityExpert, designation_id)
    if designation is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    name = designation.user.name
    services.remove_expert(designation, by=current_user)
    flash(_("%(name)s n'est plus expert(e) de la communauté.", name=name), "success")
    return redirect(url_for(".experts"))


# --- the requester's consent, the agent's opening --------------------------------------------------------


@tickets_bp.post("/demandes/<reference>/communaute")
def consent(reference: str):
    """The requester gives or withdraws their consent from the follow page."""
    ticket = load_requester_ticket(reference)
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    author = current_user if current_user.is_authenticated else None
    try:
        if form.consent.data:
            services.give_consent(ticket, by=author)
            flash(_("Votre question est ouverte, anonymisée, aux experts des établissements. Leurs réponses vous "
                    "parviendront après relecture par l'agence."), "success")
        else:
            services.withdraw_consent(ticket, by=author)
            flash(_("Votre question n'est plus ouverte à la communauté."), "success")
    except services.CommunityError as error:
        flash(str(error), "error")
    return redirect(url_for("tickets_public.follow", reference=ticket.reference) + "#communaute")


def _staff_ticket(reference: str) -> Ticket:
    ticket = tickets.ticket_by_reference(reference) if len(reference) <= 20 else None
    if ticket is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return ticket


@tickets_bp.post("/agent/demandes/<reference>/communaute/ouvrir")
@staff_required
def open_to_community(reference: str):
    ticket = _staff_ticket(reference)
    try:
        services.open_question(ticket, by=current_user)
    except services.CommunityError as error:
        flash(str(error), "error")
    else:
        flash(_("La question est ouverte à la communauté des experts."), "success")
    return redirect(url_for("tickets_agent.ticket", reference=ticket.reference))


@tickets_bp.post("/agent/demandes/<reference>/communaute/fermer")
@staff_required
def close_to_community(reference: str):
    ticket = _staff_ticket(reference)
    services.close_question(ticket, by=current_user)
    flash(_("La question n'est plus visible des experts."), "success")
    return redirect(url_for("tickets_agent.ticket", reference=ticket.reference))


def consent_block(ticket: Ticket) -> dict | None:
    """What the follow page shows of the community: the consent form, and where the question stands."""
    question = queries.question_of_ticket(ticket)
    consented = bool(question and question.consent)
    if ticket.status not in ACTIVE_STATUSES and not consented:
        return None
    form = ConsentForm(formdata=None, consent=consented)
    return {"form": form, "consented": consented, "answered": bool(question and question.answered_at),
            "active": ticket.status in ACTIVE_STATUSES}


def requester_ticket(reference: str) -> Ticket | None:
    """The request just submitted, on its confirmation page, if this visitor may follow it (else no consent form)."""
    ticket = tickets.ticket_by_reference(reference) if reference and len(reference) <= 20 else None
    return ticket if ticket is not None and requester_may_see(ticket) else None


def ticket_panel(ticket: Ticket) -> Markup | None:
    """The agent's side panel: consent, visibility, answers waiting, and the opening or closing."""
    question = queries.question_of_ticket(ticket)
    pending = sum(1 for a in question.answers if a.state == AnswerState.PROPOSED) if question else 0
    return Markup(render_template("community/_ticket_panel.html", ticket=ticket, question=question,  # noqa: S704
                                  pending=pending, active=ticket.status in ACTIVE_STATUSES))


#: The community's steps in the ticket's audit trail, labelled on the agent's ticket page.
EVENT_LABELS = {
    "community_consent": "Question ouverte à la communauté par le demandeur",
    "community_withdrawn": "Accord du demandeur pour la communauté retiré",
    "community_opened": "Question ouverte à la communauté",
    "community_closed": "Question retirée de la communauté",
    "community_answer": "Réponse proposée par un expert de la communauté",
    "community_endorsement": "Réponse de la communauté soutenue",
    "community_accepted": "Réponse de la communauté acceptée et transmise",
    "community_rejected": "Réponse de la communauté refusée",
}


def init_app(app: Flask) -> None:
    from crm.core import registry

    app.register_blueprint(bp)
    app.register_blueprint(tickets_bp)
    history.EVENT_LABELS.update(EVENT_LABELS)  # the ticket page's timeline labels the kinds it is given
    app.add_template_global(consent_block, "community_consent")
    app.add_template_global(requester_ticket, "community_requester_ticket")
    registry.add_menu(app, 34, "Communauté d'experts", "community.index", _is_expert)
    registry.add_ticket_panel(app, 60, ticket_panel)
