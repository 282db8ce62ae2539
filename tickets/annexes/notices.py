"""The annexes' e-mails (outbox) and in-app notifications: to the référents, to the agent who published."""

from __future__ import annotations

from datetime import date

from crm.core.views import external_url, path_for
from notifications.emails import mail_locale
from notifications.outbox import enqueue_email
from notifications.services import notify_user
from tickets.annexes.models import AnnexReview, AnnexVersion, FinancialAnnex, ReviewDecision
from tickets.annexes.queries import referents_for


def _localized(locale: str | None, fr: str, en: str, **values) -> str:
    return (en if mail_locale(locale) == "en" else fr) % values


def _mail_referents(annex: FinancialAnnex, step: str, dedup: str) -> int:
    """One e-mail per référent of the annex's establishment; the dedup key makes each step once per version."""
    link = external_url("annexes_portal.annex", annex_id=annex.id)
    sent = 0
    for user in referents_for(annex.partner.organisation):
        row = enqueue_email(dedup_key=f"annex:{annex.id}:v{annex.current_version}:{dedup}:{user.id}",
                            kind=f"annex_{step}", recipient=user.email, template="annexes/mail/referent",
                            locale=user.locale, user=user, annex=annex, step=step, link=link)
        sent += row is not None
    return sent


def published(annex: FinancialAnnex, version: AnnexVersion) -> None:
    """Tell the establishment's référents that a version waits for them."""
    _mail_referents(annex, "published", "published")


def reminded(annex: FinancialAnnex) -> int:
    """Remind the référents before the deadline."""
    return _mail_referents(annex, "reminder", "reminder")


def answered(annex: FinancialAnnex, review: AnnexReview) -> None:
    """Tell the agent who published the version what the référent answered."""
    agent = annex.published_by
    if agent is None:
        return
    if review.decision == ReviewDecision.APPROVED:
        title = _localized(agent.locale, "Annexe financière approuvée : %(ref)s", "Financial annex approved: %(ref)s",
                           ref=annex.reference)
    else:
        title = _localized(agent.locale, "Corrections demandées sur l'annexe financière %(ref)s",
                           "Corrections requested on financial annex %(ref)s", ref=annex.reference)
    body = "\n".join(f"- {line} : {text}" for line, text in sorted(review.comments.items()))
    notify_user(agent, kind=f"annex_{review.decision}", dedup_key=f"annex:{annex.id}:review:{review.id}",
                title=title, body=body or review.comment, url=path_for("annexes_agent.annex", annex_id=annex.id))


def escalated(annex: FinancialAnnex, today: date) -> bool:
    """Tell the agent who published the version that the deadline passed without an answer (urgent)."""
    agent = annex.published_by
    if agent is None:
        return False
    title = _localized(agent.locale, "Date limite dépassée sans réponse : annexe %(ref)s",
                       "Deadline passed without an answer: annex %(ref)s", ref=annex.reference)
    body = _localized(agent.locale, "Date limite : %(due)s — %(org)s", "Deadline: %(due)s — %(org)s",
                      due=annex.due_on.strftime("%d/%m/%Y"), org=annex.partner.organisation.name)
    notify_user(agent, kind="annex_overdue", urgent=True, title=title, body=body,
                dedup_key=f"annex:{annex.id}:v{annex.current_version}:overdue:{agent.id}",
                url=path_for("annexes_agent.annex", annex_id=annex.id))
    return True
