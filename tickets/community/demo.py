"""Demo data: the laboratory director is an expert of her university; three questions opened with consent, one
with an answer waiting for moderation and endorsed by a référent, and one refused answer with its reason."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from crm.core.services import user_by_email
from crm.organisations.models import Organisation
from tickets.community import services
from tickets.models import Status, Ticket

#: crm.demo.projects' laboratory director: the portal account that is the demo's community expert.
EXPERT_EMAIL = "claire.delorme@univ-exemple.fr"
UNIV_CODE = "UNIV-EX"
DEMO_LOGIN = ("Experte de la communauté (portail)", EXPERT_EMAIL)

ANSWER = ("Dans notre établissement, nous procédons ainsi : le coordinateur dépose la demande dans l'espace "
          "projet, avec l'accord écrit de chaque partenaire et un calendrier révisé. Comptez deux à trois "
          "semaines pour l'instruction par l'agence.")
REFUSED = "Il suffit d'envoyer un courriel à l'agence, elle répondra."


def seed_demo_community(context: dict) -> None:
    users = context.get("users", {})
    manager, referent = users.get("manager"), users.get("referent")
    expert = user_by_email(EXPERT_EMAIL)
    university = db.session.scalar(sa.select(Organisation).where(Organisation.code == UNIV_CODE))
    if manager is None or referent is None or expert is None or university is None:
        return
    services.designate_expert(expert, university, by=manager)
    tickets = db.session.scalars(
        sa.select(Ticket).where(Ticket.status.in_([Status.NEW, Status.OPEN]), Ticket.topic_id.is_not(None),
                                Ticket.merged_into_id.is_(None))
        .order_by(Ticket.id).limit(3)).all()
    questions = [services.give_consent(ticket) for ticket in tickets]
    if len(questions) < 2:
        return
    waiting = services.propose_answer(questions[0], author=expert, body=ANSWER)
    services.endorse_answer(waiting, by=referent)
    refused = services.propose_answer(questions[1], author=expert, body=REFUSED)
    services.reject_answer(refused, by=referent, reason="La réponse doit expliquer la démarche : le demandeur "
                                                        "a déjà écrit à l'agence.")
