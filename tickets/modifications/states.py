"""The modification request's state machine: states, actions, who may take them, the ticket status each maps to.

Pure (no database): ``step(state, action, actor)`` answers the next state or raises TransitionError with a message
for the user. The services call it before every change, so an illegal transition is refused in one place.

    draft --submit--> submitted --ask_co_validation--> co_validation --co_validate--> under_review
                      submitted --start_review--------------------------------------> under_review
    co_validation --decline_co_validation--> draft
    under_review --request_information--> information_requested --provide_information--> under_review
    under_review --accept | partly_accept | refuse--> accepted | partly_accepted | refused
    accepted | partly_accepted --record--> recorded --close--> closed;  refused --close--> closed
    draft … information_requested --withdraw--> withdrawn
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask_babel import gettext as _


class State(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CO_VALIDATION = "co_validation"
    UNDER_REVIEW = "under_review"
    INFORMATION_REQUESTED = "information_requested"
    ACCEPTED = "accepted"
    PARTLY_ACCEPTED = "partly_accepted"
    REFUSED = "refused"
    RECORDED = "recorded"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Actor(enum.StrEnum):
    FILER = "filer"
    CO_VALIDATOR = "co_validator"
    AGENT = "agent"
    SYSTEM = "system"


STATE_LABELS = {
    State.DRAFT: "Brouillon",
    State.SUBMITTED: "Déposée",
    State.CO_VALIDATION: "En attente de co-validation",
    State.UNDER_REVIEW: "En instruction à l'agence",
    State.INFORMATION_REQUESTED: "Compléments demandés",
    State.ACCEPTED: "Acceptée",
    State.PARTLY_ACCEPTED: "Acceptée partiellement",
    State.REFUSED: "Refusée",
    State.RECORDED: "Enregistrée",
    State.CLOSED: "Clôturée",
    State.WITHDRAWN: "Retirée",
}

#: The decisions an agent takes, and the state each leads to.
DECISIONS = {"accept": State.ACCEPTED, "partly_accept": State.PARTLY_ACCEPTED, "refuse": State.REFUSED}
DECIDED = (State.ACCEPTED, State.PARTLY_ACCEPTED, State.REFUSED)
#: States the agency works (the référents' queue by default).
AGENCY_STATES = (State.UNDER_REVIEW, State.INFORMATION_REQUESTED)
#: States in which the filer's side still acts or waits (not yet with a decision).
PENDING_STATES = (State.SUBMITTED, State.CO_VALIDATION, State.UNDER_REVIEW, State.INFORMATION_REQUESTED)
#: The accepted changes the business systems must record (the export).
ACCEPTED_STATES = (State.ACCEPTED, State.PARTLY_ACCEPTED, State.RECORDED)

#: The ticket status (tickets.models.Status values) of each state: the SLA clock runs only under review.
TICKET_STATUS = {
    State.SUBMITTED: "new",
    State.CO_VALIDATION: "waiting_on_requester",
    State.UNDER_REVIEW: "open",
    State.INFORMATION_REQUESTED: "waiting_on_requester",
    State.ACCEPTED: "resolved",
    State.PARTLY_ACCEPTED: "resolved",
    State.REFUSED: "resolved",
    State.RECORDED: "resolved",
    State.CLOSED: "closed",
    State.WITHDRAWN: "closed",
}


#: The label of each action (its button), translated when displayed.
ACTION_LABELS = {
    "submit": "Déposer la demande",
    "ask_co_validation": "Transmettre pour co-validation",
    "start_review": "Transmettre à l'agence",
    "co_validate": "Co-valider la demande",
    "decline_co_validation": "Renvoyer la demande à son auteur",
    "request_information": "Demander des compléments",
    "provide_information": "Envoyer les compléments",
    "accept": "Accepter",
    "partly_accept": "Accepter partiellement",
    "refuse": "Refuser",
    "record": "Marquer comme enregistrée dans le système de gestion",
    "close": "Clôturer",
    "withdraw": "Retirer la demande",
}


@dataclass(frozen=True)
class Transition:
    """An action: the states it starts from, the state it leads to, who takes it, whether it needs a reason."""

    action: str
    sources: tuple[State, ...]
    target: State
    actors: tuple[Actor, ...]
    needs_reason: bool = False

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]


_WITHDRAWABLE = (State.DRAFT, State.SUBMITTED, State.CO_VALIDATION, State.UNDER_REVIEW, State.INFORMATION_REQUESTED)

TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("submit", (State.DRAFT,), State.SUBMITTED, (Actor.FILER,)),
    Transition("ask_co_validation", (State.SUBMITTED,), State.CO_VALIDATION, (Actor.SYSTEM,)),
    Transition("start_review", (State.SUBMITTED,), State.UNDER_REVIEW, (Actor.SYSTEM,)),
    Transition("co_validate", (State.CO_VALIDATION,), State.UNDER_REVIEW, (Actor.CO_VALIDATOR,)),
    Transition("decline_co_validation", (State.CO_VALIDATION,), State.DRAFT, (Actor.CO_VALIDATOR,), True),
    Transition("request_information", (State.UNDER_REVIEW,), State.INFORMATION_REQUESTED, (Actor.AGENT,), True),
    Transition("provide_information", (State.INFORMATION_REQUESTED,), State.UNDER_REVIEW, (Actor.FILER,), True),
    Transition("accept", (State.UNDER_REVIEW,), State.ACCEPTED, (Actor.AGENT,), True),
    Transition("partly_accept", (State.UNDER_REVIEW,), State.PARTLY_ACCEPTED, (Actor.AGENT,), True),
    Transition("refuse", (State.UNDER_REVIEW,), State.REFUSED, (Actor.AGENT,), True),
    Transition("record", (State.ACCEPTED, State.PARTLY_ACCEPTED), State.RECORDED, (Actor.AGENT, Actor.SYSTEM)),
    Transition("close", (State.RECORDED, State.REFUSED), State.CLOSED, (Actor.AGENT, Actor.SYSTEM)),
    Transition("withdraw", _WITHDRAWABLE, State.WITHDRAWN, (Actor.FILER,)),
)}


class TransitionError(ValueError):
    """An action is not allowed from this state or for this actor; the message is shown to the user (French)."""


def step(state: str, action: str, actor: str, reason: str = "") -> State:
    """The state ``action`` leads to from ``state`` when ``actor`` takes it, else TransitionError."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise TransitionError(_("Action inconnue : %(action)s.", action=action))
    current = State(state)
    if current not in transition.sources:
        raise TransitionError(_("Action « %(action)s » impossible : la demande est à l'état « %(state)s ».",
                                action=_(transition.label), state=_(STATE_LABELS[current])))
    if Actor(actor) not in transition.actors:
        raise TransitionError(_("Action « %(action)s » : elle ne vous revient pas sur cette demande.",
                                action=_(transition.label)))
    if transition.needs_reason and not reason.strip():
        raise TransitionError(_("Action « %(action)s » : un motif ou un message est obligatoire.",
                                action=_(transition.label)))
    return transition.target


def actions_for(state: str, actor: str) -> list[Transition]:
    """The actions ``actor`` may take from ``state`` (for the buttons shown)."""
    return [t for t in TRANSITIONS.values() if State(state) in t.sources and Actor(actor) in t.actors]
