"""Demo data of the expert module: référent profiles and the rule set of expert/rules.yaml."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from expert import RULES_FILE, ruleset
from expert.models import Outcome, ReferentProfile, TriageDecision

# user key → (group slug, topics, calls, max load)
REFERENTS = {
    "referent": ("referents-amendements", ["avenant"], [], 25),
    "referent_finance": ("referents-finances", ["financement", "versements"], [], 25),
    "referent_evaluation": ("referents-evaluation", ["evaluation"], ["AAPG2024", "AAPG2025"], 25),
}


def seed(context: dict, groups: dict[str, int] | None = None) -> None:
    """Create the référent profiles (groups: queue id by slug) and import the demo rules (idempotent)."""
    groups = groups or {}
    users = context.get("users", {})
    for key, (group, topics, calls, max_load) in REFERENTS.items():
        user = users.get(key)
        if user is None:
            continue
        exists = db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == user.id))
        if exists is None:
            db.session.add(ReferentProfile(user=user, group_id=groups.get(group), topics=topics, calls=calls,
                                           available=True, max_load=max_load))
    if not ruleset.stored_rules():
        ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=users.get("admin"),
                            comment="Règles de démonstration")
    db.session.flush()


def outcome_fates(decisions: list[TriageDecision], *, seed: int = 25) -> list[tuple[TriageDecision, str, datetime]]:
    """What demo requesters do after automatic answers: (decision, "confirm" or "advisor", when); some never answer."""
    rng = random.Random(seed)  # noqa: S311 - demo data
    now = utcnow()
    fates = []
    for decision in decisions:
        at = min(decision.decided_at + timedelta(minutes=rng.randint(5, 60 * 48)), now)
        fate = rng.random()
        if fate < 0.6:
            fates.append((decision, "confirm", at))
        elif fate < 0.85:
            fates.append((decision, "advisor", at))
    return fates


def waiting_auto_answers() -> list[TriageDecision]:
    """Decisions whose automatic answer still awaits the requester's reply, oldest first."""
    return list(db.session.scalars(
        sa.select(TriageDecision).where(TriageDecision.outcome == Outcome.AUTO_ANSWERED).order_by(TriageDecision.id)
    ))


#: Demo conversations with the assistant: (days ago, questions, clicks, ends resolved).
CONVERSATIONS = [
    (1, ["Comment prolonger la durée de mon projet ?"], [], True),
    (2, ["Quelle est la date limite pour déposer ma proposition ?"], ["AAPG-2026"], True),
    (3, ["Mon laboratoire déménage, qui prévenir pour le courrier ?"], [], False),
    (4, ["Le versement de l'aide n'est pas arrivé, c'est urgent"], [], False),
]


def seed_conversations(context: dict) -> None:
    """A few conversations with the assistant, for the managers' page (none opens a request)."""
    from expert import conversations
    from expert.models import AssistantConversation, TurnKind

    if db.session.scalar(sa.select(AssistantConversation.id).limit(1)) is not None:
        return
    for days, questions, clicks, resolved in CONVERSATIONS:
        at = utcnow() - timedelta(days=days)
        conversation, _key = conversations.start_conversation(user=None, now=at)
        for question in questions:
            conversations.ask(conversation, question, now=at)
        for click in clicks:
            try:
                conversations.choose(conversation, click, now=at)
            except conversations.ConversationError:  # the knowledge base changed: no such question any more
                break
        if resolved and conversations.last_turn(conversation).kind == TurnKind.ANSWER:
            conversations.resolve(conversation, now=at)
    db.session.flush()
