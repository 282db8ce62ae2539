"""Demo data of the expert module: référent profiles and the rule set of expert/rules.yaml."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from crm.extensions import db, utcnow
from expert import RULES_FILE, ruleset, services
from expert.models import Outcome, ReferentProfile, TriageDecision

# user key → (group slug, topics, calls, max load)
REFERENTS = {
    "referent": ("referents-amendements", ["avenant"], [], 25),
    "referent_finance": ("referents-finances", ["financement", "versements"], [], 25),
    "referent_evaluation": ("referents-evaluation", ["evaluation"], ["AAPG2024", "AAPG2025"], 25),
}


def seed(context: dict) -> None:
    """Create the référent profiles and import the demo rules (idempotent)."""
    from tickets.demo import seed_reference_data

    queues = seed_reference_data(context.get("users"))["queues"]
    users = context.get("users", {})
    for key, (group, topics, calls, max_load) in REFERENTS.items():
        user = users.get(key)
        if user is None:
            continue
        exists = db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == user.id))
        if exists is None:
            db.session.add(ReferentProfile(user=user, group=queues.get(group), topics=topics, calls=calls,
                                           available=True, max_load=max_load))
    if not ruleset.stored_rules():
        ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=users.get("admin"),
                            comment="Règles de démonstration")
    db.session.flush()


def seed_outcomes(context: dict) -> None:
    """Let demo requesters answer most automatic answers: confirmed, or an advisor asked for."""
    rng = random.Random(25)  # noqa: S311 - demo data
    now = utcnow()
    decisions = db.session.scalars(
        sa.select(TriageDecision).where(TriageDecision.outcome == Outcome.AUTO_ANSWERED).order_by(TriageDecision.id)
    ).all()
    for decision in decisions:
        ticket = decision.ticket
        if ticket.status != "auto_answered":
            continue
        at = min(decision.decided_at + timedelta(minutes=rng.randint(5, 60 * 48)), now)
        fate = rng.random()
        if fate < 0.6:
            services.confirm_answer(ticket, by=ticket.requester, now=at)
        elif fate < 0.85:
            services.ask_advisor(ticket, by=ticket.requester, now=at)
    db.session.flush()
