"""The community's actions: consent, opening, answers, endorsements, moderation, designations. Services flush.

Every step on a question is written to its ticket's audit trail (tickets.services.record_event). An accepted
answer goes to the requester through the normal staff reply (e-mail, first-response clock) and becomes a draft
article of the knowledge base, credited to its author and establishment, its source in the article's meta.
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from crm.core.changes import record_change
from crm.core.database import dialect_insert
from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.organisations.models import Organisation
from knowledge_base import services as kb
from tickets import services as tickets
from tickets.community import queries
from tickets.community.anonymise import anonymise
from tickets.community.models import (
    AnswerState,
    CommunityAnswer,
    CommunityEndorsement,
    CommunityExpert,
    CommunityQuestion,
)
from tickets.models import ACTIVE_STATUSES, Ticket

ANSWER_MIN, ANSWER_MAX = 20, 5000
#: The establishment credited for an agency référent's answer (stored, so in French: a proper name).
AGENCY_CREDIT = "Agence — référents métier"
REASON_MIN, REASON_MAX = 5, 1000


class CommunityError(ValueError):
    """A community action was refused; the message is shown to the user."""


def _question(ticket: Ticket) -> CommunityQuestion:
    question = queries.question_of_ticket(ticket)
    if question is None:
        question = CommunityQuestion(ticket=ticket)
        db.session.add(question)
    return question


def give_consent(ticket: Ticket, *, by: User | None = None) -> CommunityQuestion:
    """The requester opens their question to the community's experts (anonymised)."""
    if ticket.status not in ACTIVE_STATUSES:
        raise CommunityError(_("Cette demande n'est plus en cours : elle ne peut plus être ouverte à la communauté."))
    question = _question(ticket)
    if question.consent:
        return question
    now = utcnow()
    question.consent, question.consent_at, question.withdrawn_at = True, now, None
    question.is_open, question.opened_at = True, now
    tickets.record_event(ticket, "community_consent", by, at=now)
    db.session.flush()
    return question


def withdraw_consent(ticket: Ticket, *, by: User | None = None) -> CommunityQuestion | None:
    """The requester withdraws: the question leaves the space at once (its answers are kept for the agency)."""
    question = queries.question_of_ticket(ticket)
    if question is None or not question.consent:
        return question
    now = utcnow()
    question.consent, question.withdrawn_at, question.is_open = False, now, False
    tickets.record_event(ticket, "community_withdrawn", by, at=now)
    db.session.flush()
    return question


def open_question(ticket: Ticket, *, by: User) -> CommunityQuestion:
    """A référent or agent opens the question to the community again: only with the requester's consent."""
    question = queries.question_of_ticket(ticket)
    if question is None or not question.consent:
        raise CommunityError(_("Le demandeur n'a pas accepté que sa question soit ouverte à la communauté."))
    if ticket.status not in ACTIVE_STATUSES:
        raise CommunityError(_("Cette demande n'est plus en cours : elle ne peut plus être ouverte à la communauté."))
    if not question.is_open:
        question.is_open, question.opened_at = True, utcnow()
        tickets.record_event(ticket, "community_opened", by, at=question.opened_at)
        db.session.flush()
    return question


def close_question(ticket: Ticket, *, by: User) -> None:
    """Take the question out of the space (the consent stays: it may be opened again)."""
    question = queries.question_of_ticket(ticket)
    if question is not None and question.is_open:
        question.is_open = False
        tickets.record_event(ticket, "community_closed", by)
        db.session.flush()


def _credit_of(user: User) -> tuple[str, int | None]:
    designation = queries.expert_designation(user)
    if designation is not None:
        return designation.organisation.name, designation.organisation_id
    return AGENCY_CREDIT, None


def propose_answer(question: CommunityQuestion, *, author: User, body: str) -> CommunityAnswer:
    """An expert's answer, waiting for a référent's moderation."""
    body = (body or "").strip()
    if len(body) < ANSWER_MIN:
        raise CommunityError(_("La réponse doit compter au moins %(n)s caractères.", n=ANSWER_MIN))
    if len(body) > ANSWER_MAX:
        raise CommunityError(_("La réponse ne doit pas dépasser %(n)s caractères.", n=ANSWER_MAX))
    establishment, organisation_id = _credit_of(author)
    answer = CommunityAnswer(question=question, author=author, author_name=author.name,
                             establishment_name=establishment, organisation_id=organisation_id, body=body)
    db.session.add(answer)
    db.session.flush()
    tickets.record_event(question.ticket, "community_answer", author, answer=answer.id)
    return answer


def endorse_answer(answer: CommunityAnswer, *, by: User) -> bool:
    """An expert's +1 on another expert's waiting answer; False when they had already endorsed it."""
    if answer.author_id == by.id:
        raise CommunityError(_("Vous ne pouvez pas soutenir votre propre réponse."))
    if answer.state != AnswerState.PROPOSED:
        raise CommunityError(_("Cette réponse a déjà été modérée."))
    added = db.session.execute(  # a second click, even concurrent, adds nothing (the pair is the primary key)
        dialect_insert(CommunityEndorsement).values(answer_id=answer.id, user_id=by.id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["answer_id", "user_id"])).rowcount
    db.session.expire(answer, ["endorsements"])
    if not added:
        return False
    tickets.record_event(answer.question.ticket, "community_endorsement", by, answer=answer.id)
    db.session.flush()
    return True


def _check_moderation(answer: CommunityAnswer, by: User) -> None:
    if not queries.is_moderator(by):
        raise CommunityError(_("Seuls les référents et les responsables modèrent les réponses."))
    if answer.state != AnswerState.PROPOSED:
        raise CommunityError(_("Cette réponse a déjà été modérée."))
    if queries.visible_question(answer.question_id) is None:
        raise CommunityError(_("Cette question n'est plus ouverte à la communauté."))


def credit_line(answer: CommunityAnswer) -> str:
    return _("Réponse de la communauté — %(author)s, %(establishment)s", author=answer.author_name,
             establishment=answer.establishment_name)


def accept_answer(answer: CommunityAnswer, *, by: User) -> CommunityAnswer:
    """Send the answer to the requester (a staff reply, credited), then record it as a draft article."""
    _check_moderation(answer, by)
    question = answer.question
    ticket = question.ticket
    with force_locale(ticket.requester_locale or "fr"):
        credit = credit_line(answer)
    try:
        message = tickets.reply_to_ticket(ticket, author=by, body=f"{credit}\n\n{answer.body}")
    except tickets.TicketError as error:
        raise CommunityError(str(error)) from error
    now = utcnow()
    answer.state, answer.moderated_by, answer.moderated_at, answer.message = AnswerState.ACCEPTED, by, now, message
    names = queries.requester_names(ticket)
    source = {"kind": "community_answer", "answer": answer.id, "ticket": ticket.reference,
              "author": answer.author_name, "establishment": answer.establishment_name}
    try:
        article = kb.create_article({"question": anonymise(ticket.subject, names)[:500],
                                     "answer": f"{answer.body}\n\n*{credit_line(answer)}*",
                                     "topic": ticket.topic.slug if ticket.topic else None,
                                     "meta": {"source": source}},
                                    answer.author, comment=credit_line(answer))
    except kb.ArticleError as error:
        raise CommunityError(str(error)) from error
    answer.article_external_id = article.external_id
    question.is_open, question.answered_at = False, now
    tickets.record_event(ticket, "community_accepted", by, answer=answer.id, article=article.external_id,
                         author=answer.author_name, establishment=answer.establishment_name)
    db.session.flush()
    return answer


def reject_answer(answer: CommunityAnswer, *, by: User, reason: str) -> CommunityAnswer:
    """Refuse the answer with a reason its author reads; nothing reaches the requester."""
    _check_moderation(answer, by)
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise CommunityError(_("Indiquez la raison du refus (au moins %(n)s caractères).", n=REASON_MIN))
    if len(reason) > REASON_MAX:
        raise CommunityError(_("La raison ne doit pas dépasser %(n)s caractères.", n=REASON_MAX))
    answer.state, answer.moderated_by, answer.moderated_at = AnswerState.REJECTED, by, utcnow()
    answer.rejection_reason = reason
    tickets.record_event(answer.question.ticket, "community_rejected", by, answer=answer.id, reason=reason)
    db.session.flush()
    return answer


def designate_expert(user: User, organisation: Organisation, *, by: User) -> CommunityExpert:
    """Name a person of a member establishment expert of the community (one establishment per person)."""
    if user.is_staff:
        raise CommunityError(_("Les comptes de l'agence n'ont pas besoin d'être désignés : ses référents sont "
                               "experts de la communauté."))
    if not user.active:
        raise CommunityError(_("Ce compte est désactivé."))
    if queries.expert_designation(user) is not None:
        raise CommunityError(_("Cette personne est déjà experte de la communauté."))
    designation = CommunityExpert(user=user, organisation=organisation, designated_by=by, designated_at=utcnow())
    db.session.add(designation)
    db.session.flush()
    record_change("community_expert", designation.id, "created", by=by,
                  after={"user": user.email, "organisation": organisation.code})
    return designation


def remove_expert(designation: CommunityExpert, *, by: User) -> None:
    """Withdraw a designation; the expert's answers keep their credit."""
    record_change("community_expert", designation.id, "deleted", by=by,
                  before={"user": designation.user.email, "organisation": designation.organisation.code})
    db.session.delete(designation)
    db.session.flush()
