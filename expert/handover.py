"""The request being opened from a conversation with the assistant, as triage sees it (expert.services.decide)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from expert.models import AssistantConversation, TurnKind
from expert.rules import OUTCOME_AUTO_ANSWERED, OUTCOME_HUMAN, OUTCOME_ROUTED


def person_words(conversation: AssistantConversation) -> str:
    """The person's questions, in order (what triage reads)."""
    return "\n".join(t.text for t in conversation.turns if t.kind == TurnKind.QUESTION)


@dataclass
class Handover:
    """What triage learns from the conversation of the request it triages."""

    conversation: AssistantConversation
    words: str
    offered: set[int] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    #: The passages of call documents the assistant quoted.
    quoted: set[int] = field(default_factory=set)

    def steer(self, decision) -> None:
        """Never answer automatically with an article or a passage the person already read and passed on; explain."""
        questions = sum(1 for t in self.conversation.turns if t.kind == TurnKind.QUESTION)
        decision.notes.insert(0, f"conversation avec l'assistant ({questions} question(s), "
                                 f"{self.conversation.clarifications} précision(s) demandée(s)) puis conseiller "
                                 "demandé" + "".join(f" ; {r}" for r in self.reasons))
        if decision.action == OUTCOME_AUTO_ANSWERED and decision.article_id in self.offered:
            decision.action = OUTCOME_ROUTED if decision.route_to else OUTCOME_HUMAN
            decision.notes.append("réponse automatique écartée : l'assistant avait déjà proposé cet article, "
                                  "le demandeur a demandé un conseiller")
            decision.article_id = None
        if decision.passage is not None and decision.passage.passage_id in self.quoted:
            decision.passage = None
            decision.notes.append("réponse par un passage écartée : l'assistant l'avait déjà cité, le demandeur a "
                                  "demandé un conseiller")


_handover: ContextVar[Handover | None] = ContextVar("expert_assistant_handover", default=None)


@contextmanager
def handover(conversation: AssistantConversation, *, words: str, reasons: list[str]) -> Iterator[Handover]:
    """The request opened inside the block comes from this conversation (read by expert.services.decide);
    ``words``: the person's message, which triage reads instead of the whole body (the transcript is attached)."""
    offered = {t.article_id for t in conversation.turns if t.kind == TurnKind.ANSWER and t.article_id}
    quoted = {t.passage_id for t in conversation.turns if t.kind == TurnKind.PASSAGE and t.passage_id}
    token = _handover.set(Handover(conversation, words, offered, list(reasons), quoted))
    try:
        yield _handover.get()
    finally:
        _handover.reset(token)


def current_handover() -> Handover | None:
    return _handover.get()


