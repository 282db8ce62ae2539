"""Reference configuration (queues, topics, calendars, SLA policies, saved replies) and demo tickets."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from crm.projects.models import PORTAL_STATES
from expert.demo import outcome_fates, waiting_auto_answers
from expert.demo import seed as seed_expert_data
from notifications.models import OutboxMessage
from tickets import services, surveys, triage, workflow
from tickets.admin.defaults import ESCALATION, OFFICE, install_defaults
from tickets.models import (
    CannedResponse,
    Priority,
    Queue,
    QueueMember,
    SlaCalendar,
    SlaPolicy,
    Status,
    Survey,
    Ticket,
    Topic,
)

QUEUES = [
    ("support", "Support aux porteurs de projets", "Questions générales, dépôt, compte et portail.", False),
    ("referents-amendements", "Référents conventionnement et avenants",
     "Avenants, prolongations, changements de bénéficiaire ou de coordinateur.", True),
    ("referents-finances", "Référents financiers", "Versements, dépenses éligibles, justificatifs financiers.", True),
    ("referents-evaluation", "Référents évaluation et sélection",
     "Critères d'évaluation, comités, résultats de sélection.", True),
]

TOPICS = [
    ("depot", "Dépôt d'une proposition", "Submitting a proposal", "support"),
    ("eligibilite", "Éligibilité", "Eligibility", "support"),
    ("calendrier", "Calendrier et dates limites", "Calendar and deadlines", "support"),
    ("evaluation", "Évaluation et sélection", "Evaluation and selection", "referents-evaluation"),
    ("financement", "Règles de financement", "Funding rules", "referents-finances"),
    ("versements", "Versements et justificatifs", "Payments and financial reports", "referents-finances"),
    ("avenant", "Avenant et modification du projet", "Amendments and project changes", "referents-amendements"),
    ("portail", "Compte et portail projets", "Account and project portal", "support"),
    ("autre", "Autre question", "Other question", "support"),
]

# Beyond the defaults (tickets.admin.defaults: one standard policy per priority):
# (name, tier, priority, topic, queue, first response minutes, resolution minutes, calendar)
POLICIES = [
    ("Établissement prioritaire", "prioritaire", None, None, None, 450, 6 * 450, OFFICE),
    ("Établissement premium", "premium", None, None, None, 240, 4 * 450, OFFICE),
    ("Avenants", None, None, "avenant", None, 3 * 450, 15 * 450, OFFICE),
]

CANNED = [
    (None, "Accusé de réception détaillé",
     "Bonjour,\n\nNous avons bien reçu votre demande et la traitons. Nous revenons vers vous dans les meilleurs "
     "délais.\n\nBien cordialement,\nLe support de l'agence"),
    ("support", "Pièces manquantes",
     "Bonjour,\n\nPour traiter votre demande, pourriez-vous nous transmettre les pièces suivantes : …\n\n"
     "Bien cordialement,\nLe support de l'agence"),
    ("support", "Dépôt hors délai",
     "Bonjour,\n\nLa plateforme de dépôt ferme à l'heure indiquée dans le texte de l'appel ; aucun dépôt "
     "n'est possible après la clôture.\n\nBien cordialement,\nLe support de l'agence"),
    ("referents-amendements", "Demande d'avenant : procédure",
     "Bonjour,\n\nToute demande de modification se fait depuis l'espace projet, rubrique « Demandes de "
     "modification », avec l'accord de l'établissement gestionnaire.\n\nBien cordialement"),
]


def seed_reference_data(users: dict | None = None) -> dict:
    """The defaults (tickets.admin.defaults), then the demo's queues, topics, policies and saved replies
    (idempotent: a second run changes nothing)."""
    install_defaults()
    queues = {q.slug: q for q in db.session.scalars(sa.select(Queue))}
    if "referents-amendements" in queues:
        return {"queues": queues}
    for slug, name, description, referents in QUEUES:
        queue = queues.get(slug) or Queue(slug=slug)
        queue.name, queue.description, queue.is_referent_group = name, description, referents
        queues[slug] = queue
        db.session.add(queue)
    topics = {t.slug: t for t in db.session.scalars(sa.select(Topic))}
    for position, (slug, label, label_en, queue) in enumerate(TOPICS):
        topic = topics.get(slug) or Topic(slug=slug)
        topic.label, topic.label_en, topic.default_queue, topic.position = label, label_en, queues[queue], position
        db.session.add(topic)
    calendars = {c.name: c for c in db.session.scalars(sa.select(SlaCalendar))}
    calendars[OFFICE].closed_days = ([f"{y}-12-24" for y in range(2025, 2029)]
                                     + [f"{y}-12-31" for y in range(2025, 2029)])
    db.session.flush()
    for name, tier, priority, topic, queue, first, resolution, calendar in POLICIES:
        db.session.add(SlaPolicy(
            name=name, service_tier=tier, priority=priority, topic_slug=topic,
            queue_id=queues[queue].id if queue else None, first_response_minutes=first,
            resolution_minutes=resolution, calendar=calendars[calendar], escalation=dict(ESCALATION),
        ))
    for queue, title, body in CANNED:
        db.session.add(CannedResponse(queue=queues[queue] if queue else None, title=title, body=body))
    if users:
        _staff_queues(queues, users)
    db.session.flush()
    return {"queues": queues}


def _staff_queues(queues: dict, users: dict) -> None:
    membership = {
        "support": ["agent", "agent2", "agent3"],
        "referents-amendements": ["referent"],
        "referents-finances": ["referent_finance"],
        "referents-evaluation": ["referent_evaluation"],
    }
    for slug, keys in membership.items():
        for key in keys:
            if key in users:
                db.session.add(QueueMember(queue=queues[slug], user=users[key]))
    if "manager" in users:
        for queue in queues.values():
            queue.manager = users["manager"]


SAMPLE_REQUESTS = [
    ("depot", "Problème de dépôt sur la plateforme",
     "Bonjour, je n'arrive pas à téléverser le document scientifique de ma proposition, le bouton reste grisé."),
    ("calendrier", "Date limite de dépôt de l'appel générique",
     "Bonjour, pouvez-vous me confirmer la date et l'heure de clôture du dépôt des propositions complètes ?"),
    ("eligibilite", "Éligibilité d'un partenaire étranger",
     "Un laboratoire suisse peut-il être partenaire de notre consortium et recevoir une aide ?"),
    ("evaluation", "Critères d'évaluation du volet impact",
     "Comment le critère « impact et retombées » est-il noté par le comité d'évaluation ?"),
    ("financement", "Frais de gestion et frais de personnel",
     "Quel est le taux des frais de gestion pour un établissement public et peut-on financer un post-doctorant ?"),
    ("versements", "Versement du solde",
     "Notre rapport final a été transmis il y a deux mois ; quand le solde de l'aide sera-t-il versé ?"),
    ("avenant", "Demande de prolongation de six mois",
     "Nous souhaitons prolonger notre projet de six mois suite au retard de livraison d'un équipement."),
    ("avenant", "Changement de coordinateur scientifique",
     "La coordinatrice quitte l'établissement ; comment désigner un nouveau coordinateur ?"),
    ("portail", "Je ne vois pas mon projet dans le portail",
     "Je suis responsable administratif du projet mais il n'apparaît pas dans mon espace."),
    ("autre", "Demande d'attestation de financement",
     "Pourriez-vous me fournir une attestation de financement pour mon établissement ?"),
]


def seed_demo_tickets(context: dict) -> None:
    """A few hundred tickets spread over the last weeks, in every status, with replies and notes."""
    reference = seed_reference_data(context.get("users"))
    users = context.get("users", {})
    requesters = context.get("requesters", [])
    agents = [u for key, u in users.items() if key.startswith(("agent", "referent"))]
    projects = [p for p in context.get("projects", []) if p.state in PORTAL_STATES]
    rng = random.Random(2026)  # noqa: S311 - demo data
    now = utcnow()
    n = int(context.get("n_tickets", 300))
    for i in range(n):
        topic, subject, body = SAMPLE_REQUESTS[i % len(SAMPLE_REQUESTS)]
        created = now - timedelta(minutes=rng.randint(5, 60 * 24 * 45))
        requester = rng.choice(requesters) if requesters and rng.random() < 0.4 else None
        email = requester.email if requester else f"demandeur{i}@etablissement-exemple.fr"
        name = requester.name if requester else f"Demandeur {i}"
        named = None
        if requester is None and projects and rng.random() < 0.6:
            # Linked through the real path (tickets.linking): a partner's lead writes, naming the project in the
            # field or the text, or not at all (then their address finds it when they lead only that one).
            project = rng.choice(projects)
            lead = rng.choice([p for p in project.partners if p.scientific_lead or p.administrative_lead] or [None])
            person = (lead.scientific_lead or lead.administrative_lead) if lead is not None else None
            if person is not None and person.email and rng.random() < 0.8:
                email, name = person.email, person.full_name
            mention = rng.random()
            if mention < 0.4:
                named = project.reference
            elif mention < 0.8:
                body = f"{body}\n\nProjet {project.reference} ({project.acronym})."
        ticket, _key = workflow.create_ticket(
            subject=subject, body=body, requester_email=email, requester_name=name, requester=requester,
            topic=topic, priority=rng.choices(list(Priority), weights=[10, 70, 15, 5])[0],
            channel=rng.choice(["web", "web", "email", "portal", "api"]), created_at=created,
            project_reference=named,
        )
        _play_history(ticket, rng, agents, created, now)
    db.session.flush()
    context["queues"] = reference["queues"]


def _play_history(ticket, rng: random.Random, agents: list, created: datetime, now: datetime) -> None:
    """Advance a demo ticket through a plausible part of its life."""
    if not agents:
        return
    fate = rng.random()
    if fate < 0.25:
        return  # still new
    agent = rng.choice(agents)
    at = min(created + timedelta(minutes=rng.randint(10, 60 * 30)), now - timedelta(minutes=2))
    services.claim_ticket(ticket, agent, now=at)
    if fate < 0.35:
        return  # claimed, no answer yet
    at = min(at + timedelta(minutes=rng.randint(5, 600)), now - timedelta(minutes=1))
    if rng.random() < 0.3:
        services.add_internal_note(ticket, author=agent, body="Vérifié avec le service financier.", now=at)
    if fate < 0.5:
        services.reply_to_ticket(ticket, author=agent, now=at, next_status=Status.WAITING,
                                 body="Bonjour, pourriez-vous préciser le numéro de votre projet ?")
        return
    services.reply_to_ticket(ticket, author=agent, now=at,
                             body="Bonjour, voici la réponse à votre question. Bien cordialement.")
    if fate < 0.6:
        return  # answered, still open
    at = min(at + timedelta(minutes=rng.randint(5, 60 * 24)), now)
    services.resolve_ticket(ticket, by=agent, now=at)
    if fate > 0.9 and now - at > timedelta(days=7):
        services.change_status(ticket, Status.CLOSED, by=agent, now=now)


COMMENTS = {
    5: ["Réponse rapide et très claire, merci !", "Parfait, exactement ce qu'il me fallait."],
    4: ["Bonne réponse, un peu tardive.", ""],
    3: ["Correct, mais j'ai dû relancer.", ""],
    2: ["Réponse incomplète, il manque la procédure.", ""],
    1: ["Aucune réponse utile après deux semaines.", ""],
}


def seed_demo_surveys(context: dict) -> None:
    """Answer surveys of the resolved demo tickets; the demo outbox starts empty (nothing to send)."""
    rng = random.Random(7)  # noqa: S311 - demo data
    now = utcnow()
    resolved = db.session.scalars(
        sa.select(Ticket).where(Ticket.status.in_((Status.RESOLVED, Status.CLOSED))).order_by(Ticket.id)
    ).all()
    for ticket in resolved:
        survey = db.session.scalar(sa.select(Survey).where(Survey.ticket_id == ticket.id).order_by(Survey.id).limit(1))
        if survey is None:
            survey, _token = surveys.create_survey(ticket, now=ticket.resolved_at or now)
        if rng.random() < 0.6 and survey.answered_at is None:
            score = rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 12, 8, 5])[0]
            answered = min((ticket.resolved_at or now) + timedelta(hours=rng.randint(1, 48)), now)
            survey.expires_at = max(survey.expires_at, answered + timedelta(days=1))
            surveys.answer_survey(survey, score, rng.choice(COMMENTS[score]), now=answered)
    # Demo tickets were created in bulk: do not mail the fictitious requesters when the scheduler starts.
    db.session.execute(sa.delete(OutboxMessage))
    db.session.flush()


def seed_expert(context: dict) -> None:
    """The expert module's référents and rules, once the queues they belong to exist."""
    queues = seed_reference_data(context.get("users"))["queues"]
    seed_expert_data(context, groups={slug: queue.id for slug, queue in queues.items()})


def seed_outcomes(context: dict) -> None:
    """Let demo requesters answer most automatic answers: confirmed, or an advisor asked for."""
    waiting = [d for d in waiting_auto_answers() if d.ticket.status == Status.AUTO_ANSWERED]
    for decision, fate, at in outcome_fates(waiting):
        ticket = decision.ticket
        if fate == "confirm":
            triage.confirm_answer(ticket, by=ticket.requester, now=at)
        else:
            triage.ask_advisor(ticket, by=ticket.requester, now=at)
    db.session.flush()
