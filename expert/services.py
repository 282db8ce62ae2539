"""Triage decisions: candidate articles, rules, the stored decision, référent choice and the requester's answer.

This package decides; the tickets package applies the decision with its own services and supplies, through
providers registered on the app (see ``add_provider``), the facts only it knows (labels, choices, loads).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _

from crm.core import refcache
from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.core.models import User
from expert import rules as rules_engine
from expert.calls import CallDetection, call_catalogue, detect_call
from expert.handover import current_handover
from expert.models import Outcome, ReferentAbsence, ReferentProfile, TriageDecision
from expert.ruleset import compiled_rules

log = logging.getLogger(__name__)

AUTO_ANSWER_AUTHOR = "Guichet — réponse automatique"


class ExpertError(ValueError):
    """A change the expert module refuses, with a French message for the user."""


# --- Candidates and questions --------------------------------------------------------------------


def search_candidates(text: str, *, call: str | None = None, k: int = 5) -> tuple[list[rules_engine.Candidate], dict]:
    """The best articles for a text as rule candidates, and the articles by id; empty if the base is unavailable."""
    from knowledge_base.index import search_articles

    try:
        results = search_articles(text, k=k, call=call)
    except Exception:  # the knowledge base must never stop a request from being filed
        log.exception("knowledge-base search failed during triage")
        return [], {}
    candidates = [
        rules_engine.Candidate(article_id=article.id, title=article.question, score=round(float(match.score), 4),
                               confidence=round(float(match.confidence), 4), matched_text=match.matched_text,
                               external_id=article.external_id, calls=tuple(article.calls or ()))
        for article, match in results
    ]
    return candidates, {article.id: article for article, _match in results}


@contextmanager
def lexical_matching() -> Iterator[None]:
    """Within the block, the knowledge base is matched with the lexical channel only (see semantic_after_commit)."""
    from knowledge_base.index import lexical_only

    with lexical_only():
        yield


def semantic_after_commit() -> bool:
    """Whether a submission is matched lexically and left to a second look after its commit: the semantic
    channel is on and fused (KB_SEMANTIC), KB_SEMANTIC_AFTER_COMMIT is set and the request does not come from a
    conversation with the assistant (already matched with both channels, turn by turn)."""
    if not (current_app.config["KB_SEMANTIC"] and current_app.config["KB_SEMANTIC_AFTER_COMMIT"]):
        return False
    if current_handover() is not None:
        return False
    from knowledge_base.index import semantic_active

    try:
        return semantic_active()
    except Exception:  # the knowledge base must never stop a request from being filed
        log.exception("knowledge-base index unavailable during triage")
        return False


class OfferedArticles(Mapping):
    """The candidates' articles by id, each read (offered today, one statement) only when asked for: triage
    decides on the index's candidates and reads the one article it answers with (most submissions read none)."""

    def __init__(self, ids) -> None:
        self._ids = list(ids)
        self._read: dict[int, object] = {}

    def __getitem__(self, article_id):
        if article_id not in self._ids:
            raise KeyError(article_id)
        if article_id not in self._read:
            from knowledge_base.index import offered_article

            self._read[article_id] = offered_article(article_id)
        if self._read[article_id] is None:  # withdrawn since the index was built
            raise KeyError(article_id)
        return self._read[article_id]

    def __iter__(self):
        return (article_id for article_id in self._ids if article_id in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def triage_candidates(text: str, *, call: str | None = None,
                      k: int = 5) -> tuple[list[rules_engine.Candidate], OfferedArticles]:
    """The best articles for a text as rule candidates, from the index in memory, and their articles read on
    demand (see OfferedArticles); empty if the base is unavailable."""
    from knowledge_base.index import search_entries

    try:
        results = search_entries(text, k=k, call=call)
    except Exception:  # the knowledge base must never stop a request from being filed
        log.exception("knowledge-base search failed during triage")
        return [], OfferedArticles([])
    candidates = [
        rules_engine.Candidate(article_id=entry.meta["pk"], title=entry.question, score=round(float(match.score), 4),
                               confidence=round(float(match.confidence), 4), matched_text=match.matched_text,
                               external_id=entry.id, calls=tuple(entry.meta.get("calls") or ()))
        for entry, match in results
    ]
    return candidates, OfferedArticles(c.article_id for c in candidates)


def best_passage(text: str, *, call: str | None = None):
    """The passage of a call document to quote when no article is confident (a PassageMatch at least
    KB_PASSAGE_CONFIDENCE), from the index in memory; None if there is none or the base is unavailable."""
    from knowledge_base.index import search_passages

    try:
        found = search_passages(text, k=1, call=call)
    except Exception:  # the knowledge base must never stop a request from being filed
        log.exception("call-document passage search failed")
        return None
    threshold = float(current_app.config["KB_PASSAGE_CONFIDENCE"])
    return found[0] if found and found[0].confidence >= threshold else None


def passage_link(passage) -> str:
    """The absolute address of a passage on its document's public page."""
    from crm.core.views import external_url

    return f"{external_url('kb_documents.document', slug=passage.document_slug)}#{passage.anchor}"


def passage_source(passage) -> str:
    """« Règlement … (AAPG-2026), version 2, page 3 » : where a quoted passage comes from."""
    call = f" ({passage.call_code})" if passage.call_code else ""
    page = f", page {passage.page}" if passage.page else ""
    return f"« {passage.document_title} »{call}, version {passage.version}{page}"


def passage_answer_body(passage) -> str:
    """The public message that answers the requester with a passage of a call document (to be confirmed)."""
    quoted = "\n".join(f"> {line}" for line in passage.text.splitlines() or [""])
    heading = " › ".join(passage.heading_path[1:] or passage.heading_path)
    return "\n\n".join([
        "Bonjour,",
        "Aucun article de notre base de connaissances ne répond avec certitude à votre question, mais ce passage "
        f"d'un document de l'appel semble y répondre{f' (« {heading} »)' if heading else ''} :",
        quoted,
        f"Source : [{passage_source(passage)}]({passage_link(passage)}).",
        "Si ce passage répond à votre question, indiquez-le depuis la page de suivi de votre demande "
        "(« Cela répond à ma question »). Sinon, choisissez « J'ai besoin d'un conseiller » : "
        "un conseiller prendra votre demande en charge.",
        "Le service d'accompagnement de l'agence",
    ])


def requester_profiles(user: User | None) -> frozenset[str]:
    """The profile names rules test: anonymous or requester (and staff), plus the portal profiles held."""
    if user is None:
        return frozenset({"anonymous"})
    from crm.portal.scope import load_profiles
    from crm.projects.models import Partner, Project

    names = {"requester"}
    if user.is_staff:
        names.add("staff")
    profiles = load_profiles(user)
    for flag, name in ((profiles.sirens, "headquarters"), (profiles.sirets, "entity"),
                       (profiles.rnsrs, "lab_director")):
        if flag:
            names.add(name)
    if profiles.person_id is not None:
        person = profiles.person_id
        checks = {
            "coordinator": sa.select(Project.id).where(Project.coordinator_id == person),
            "scientific_lead": sa.select(Partner.id).where(Partner.scientific_lead_id == person),
            "administrative_lead": sa.select(Partner.id).where(Partner.administrative_lead_id == person),
        }
        for name, query in checks.items():
            if db.session.scalar(query.limit(1)) is not None:
                names.add(name)
    return frozenset(names)


def project_context(reference: str | None) -> tuple[str | None, str | None]:
    """(call code, project state) of the project a ticket is about, when known."""
    if not reference:
        return None, None
    from crm.projects.models import Project

    row = db.session.execute(
        sa.select(Project.call_code, Project.state).where(Project.reference == reference.strip())
    ).first()
    return (row.call_code, row.state) if row else (None, None)


# --- Facts supplied by the package that applies decisions ------------------------------------------------

#: "labels" () -> {slug: name} of queues, topics and priorities; "topics" () -> [(slug, label)] of ticket topics;
#: "referent_groups" () -> [(id, name)] of the queues that are référent groups; "active_loads" () -> {user id: n};
#: "queues" () -> [(slug, name)] of the queues a rule may route to.
PROVIDERS = ("labels", "topics", "referent_groups", "active_loads", "queues")


def add_provider(app: Flask, name: str, provider: Callable) -> None:
    """Register the function that supplies one of the PROVIDERS facts."""
    if name not in PROVIDERS:
        raise ValueError(f"unknown expert provider: {name}")
    app.extensions.setdefault("expert.providers", {})[name] = provider


def _provided(name: str, default):
    provider = current_app.extensions.get("expert.providers", {}).get(name)
    return provider() if provider is not None else default


def labels() -> dict[str, str]:
    """Names shown in explanations for queue, topic and priority slugs."""
    return dict(_provided("labels", {}))


def topic_choices() -> list[tuple[str, str]]:
    """(slug, label) of the ticket topics, in display order."""
    return list(_provided("topics", []))


def queue_choices() -> list[tuple[str, str]]:
    """(slug, name) of the queues a rule may route to, by name."""
    return list(_provided("queues", []))


def referent_groups() -> list[tuple[int, str]]:
    """(id, name) of the queues that are référent groups, by name."""
    return list(_provided("referent_groups", []))


def active_loads() -> dict[int, int]:
    """Active tickets per assignee."""
    return dict(_provided("active_loads", {}))


def evaluate_question(question: rules_engine.Question) -> tuple[int | None, rules_engine.Decision]:
    """Run the current rule set on a question; returns the rule-set version and the decision."""
    version, rule_set = compiled_rules()
    threshold = float(current_app.config["KB_AUTO_ANSWER_CONFIDENCE"])
    return version, rules_engine.evaluate(rule_set, question, threshold=threshold, labels=labels())


def try_question(subject: str, body: str = "", *, topic: str | None = None, call: str | None = None,
                 profile: str | None = None, project_state: str | None = None,
                 channel: str | None = None) -> rules_engine.Decision:
    """Triage a sample question without creating anything (admin « try it » page and API); ``call`` as if chosen
    on the request form."""
    return decide(subject=subject, body=body, topic=topic or None, stated_call=call or None,
                  profiles=frozenset({profile or "anonymous"}), project_state=project_state or None,
                  channel=channel or None)[2]


# --- The call a question is about ------------------------------------------------------------------

_stated_call: ContextVar[str | None] = ContextVar("expert_stated_call", default=None)


@contextmanager
def stated_call(code: str | None) -> Iterator[None]:
    """The call the requester chose on the request form, for the triage of the submission made inside the block
    (the request form's view wraps tickets.workflow.create_ticket with it)."""
    token = _stated_call.set(code or None)
    try:
        yield
    finally:
        _stated_call.reset(token)


def detect_question_call(text: str, *, today: date, project_call: str | None = None, stated: str | None = None,
                         chosen: str | None = None) -> CallDetection:
    """The call a question is about (expert.calls.detect_call on the process's catalogue: no statement when current)."""
    return detect_call(text, call_catalogue(), today=today, chosen=chosen, stated=stated or _stated_call.get(),
                       project_call=project_call)


# --- Triage of a new ticket -----------------------------------------------------------------------


def decide(*, subject: str, body: str = "", topic: str | None = None, call: str | None = None,
           profiles: frozenset[str] = frozenset({"anonymous"}), project_state: str | None = None,
           channel: str | None = None, today: date | None = None, stated_call: str | None = None,
           chosen_call: str | None = None) -> tuple[rules_engine.Question, int | None, rules_engine.Decision, dict]:
    """Triage plain facts: the question, the rule-set version, the decision and the candidate articles by id.

    ``call`` is the linked project's call, ``stated_call`` the one chosen on the request form (else the one of
    the ``stated_call`` block), ``chosen_call`` the one chosen on the follow page. The call detected from these
    and the text limits the candidate articles; its explanation comes first in the decision's notes.
    """
    day = today or date.today()
    handover = current_handover()  # a request opened from a conversation with the assistant
    if handover is not None:
        body = handover.words  # its own words, not the assistant's replies attached to the message
    text = f"{subject}\n{body}"
    detection = detect_question_call(text, today=day, project_call=call, stated=stated_call, chosen=chosen_call)
    question = rules_engine.Question(subject=subject, body=body, topic=topic, call=detection.code, profiles=profiles,
                                     project_state=project_state, channel=channel, today=day,
                                     call_open=detection.is_open, call_choices=detection.choices,
                                     call_source=detection.source)
    question.candidates, articles = triage_candidates(question.text, call=question.call)
    version, decision = evaluate_question(question)
    explanation = detection.explanation()
    if explanation is not None:
        decision.notes.insert(0, explanation)
    if decision.action != rules_engine.OUTCOME_AUTO_ANSWERED:
        decision.passage = best_passage(question.text, call=question.call)
        if decision.passage is not None:
            confidence = f"{decision.passage.confidence:.2f}".replace(".", ",")
            decision.notes.append(f"passage proche : {passage_source(decision.passage)} (confiance {confidence})")
    if handover is not None:
        handover.steer(decision)
    return question, version, decision, articles


def record_decision(ticket_id: int, question: rules_engine.Question, version: int | None,
                    decision: rules_engine.Decision, *, now: datetime) -> TriageDecision:
    """Store the decision taken for a ticket (whoever applies it may still adjust its action and notes)."""
    record = TriageDecision(
        ticket_id=ticket_id, question=question.text[:4000], rule_set_version=version,
        rules_matched=decision.to_dict()["rules"], notes=list(decision.notes),
        candidates=[asdict(c) for c in decision.candidates][:5], action=decision.action,
        route_to=decision.route_to, confidence=decision.confidence, decided_at=now, outcome=decision.action,
        call_code=question.call, call_source=question.call_source, call_choices=list(decision.call_choices),
    )
    db.session.add(record)
    return record


def add_note(record: TriageDecision, note: str) -> None:
    """Append an explanation note to a stored decision."""
    record.notes = [*(record.notes or []), note]


def set_action(record: TriageDecision, action: str) -> None:
    """Change what was finally done (action and outcome together)."""
    record.action = record.outcome = action


def markdown_to_text(markdown: str) -> str:
    """Readable plain text from an article's Markdown (links kept as « text (url) »)."""
    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r"\1", markdown)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"\1 (\2)", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])", r"\1", text)
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*[*+]\s+", "- ", text, flags=re.MULTILINE)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    return text.strip()


def auto_answer_body(article) -> str:
    """The public message that answers the requester from an article."""
    return "\n\n".join([
        "Bonjour,",
        "Votre question correspond à un article de notre base de connaissances :",
        f"« {article.question} »",
        article.answer,  # Markdown: the pages render it sanitised, as the article's own page does
        "Si cette réponse vous convient, indiquez-le depuis la page de suivi de votre demande "
        "(« Cela répond à ma question »). Sinon, choisissez « J'ai besoin d'un conseiller » : "
        "un conseiller prendra votre demande en charge.",
        "Le service d'accompagnement de l'agence",
    ])


def answer_with(decision: TriageDecision, article) -> None:
    """Record the article a decision answers with (kept on the decision: no second read to announce it)."""
    decision.article_id = article.id
    decision._answered_article = article


def answer_with_passage(decision: TriageDecision, passage) -> None:
    """Record the passage a decision answers with (kept on the decision for the announcement that follows)."""
    decision._answered_passage = passage


def decision_passage(decision: TriageDecision):
    """The passage (PassageMatch) a decision just answered with, if any (only within the triage's transaction)."""
    return getattr(decision, "_answered_passage", None)


def decision_article(decision: TriageDecision):
    """The knowledge-base article a decision answered with, if any."""
    from knowledge_base.models import Article

    if decision.article_id is None:
        return None
    article = getattr(decision, "_answered_article", None)
    if article is not None and article.id == decision.article_id:
        return article
    return db.session.get(Article, decision.article_id)


def latest_decision(ticket) -> TriageDecision | None:
    """The last decision stored for a ticket (anything with an ``id``)."""
    return db.session.scalar(
        sa.select(TriageDecision).where(TriageDecision.ticket_id == ticket.id)
        .order_by(TriageDecision.id.desc()).limit(1)
    )


@dataclass(frozen=True)
class ReferentSlot:
    """A référent's profile as the picking needs it (cached per process: crm.core.refcache)."""

    user_id: int
    group_id: int
    topics: tuple[str, ...]
    calls: tuple[str, ...]
    available: bool
    max_load: int
    absences: tuple[tuple[date, date], ...] = ()  # inclusive periods, Paris dates

    def absent_on(self, day: date) -> date | None:
        """The last day of the absence covering ``day``, or None."""
        return next((end for start, end in self.absences if start <= day <= end), None)


REFERENTS = "expert.referents"


def _load_referents(session) -> dict[int, tuple[ReferentSlot, ...]]:
    absences: dict[int, list[tuple[date, date]]] = {}
    for a in session.scalars(sa.select(ReferentAbsence).order_by(ReferentAbsence.starts_on)):
        absences.setdefault(a.user_id, []).append((a.starts_on, a.ends_on))
    groups: dict[int, list[ReferentSlot]] = {}
    for p in session.scalars(sa.select(ReferentProfile).where(ReferentProfile.group_id.is_not(None))
                             .order_by(ReferentProfile.user_id)):
        groups.setdefault(p.group_id, []).append(ReferentSlot(
            p.user_id, p.group_id, tuple(p.topics or ()), tuple(p.calls or ()), p.available, p.max_load or 0,
            tuple(absences.get(p.user_id, ()))))
    return {group: tuple(slots) for group, slots in groups.items()}


refcache.register(REFERENTS, _load_referents, ReferentProfile, ReferentAbsence)


def referent_slots(group_id: int) -> tuple[ReferentSlot, ...]:
    """The référent profiles of a group (their users may be inactive: the caller checks)."""
    return refcache.get(REFERENTS).get(group_id, ())


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def choose_referent(slots, users_and_loads: dict[int, tuple[User, int]], *, topic: str | None = None,
                    call: str | None = None, today: date | None = None) -> tuple[User | None, str]:
    """The référent of a group for a question, and why (for the decision's explanation).

    Among the profiles whose user is active (``users_and_loads``: id -> (user, active tickets)): those who can
    take it now (available, not absent today, under their maximum load); among them the best expertise (the
    question's topic and call both in their profile, then one of them, then neither), then the fewest active
    tickets, then the lowest id. Nobody fits: None, and the reason names why each one was set aside."""
    today = today or paris_today()
    fit, set_aside = [], []
    for slot in slots:
        if slot.user_id not in users_and_loads:
            continue
        user, load = users_and_loads[slot.user_id]
        back = slot.absent_on(today)
        if not slot.available:
            set_aside.append(f"{user.name} : indisponible")
        elif back is not None:
            set_aside.append(f"{user.name} : absent jusqu'au {_day(back)}")
        elif slot.max_load and load >= slot.max_load:
            set_aside.append(f"{user.name} : charge {load}/{slot.max_load}")
        else:
            score = int(bool(topic) and topic in slot.topics) + int(bool(call) and call in slot.calls)
            fit.append((-score, load, slot.user_id, slot, user))
    if not fit:
        detail = " ; ".join(set_aside) or "aucun profil actif"
        return None, f"aucun référent disponible dans le groupe ({detail}) : la demande reste dans la file du groupe"
    score, load, _id, slot, user = min(fit, key=lambda f: f[:3])
    matched = [f"thème « {topic} »"] if topic and topic in slot.topics else []
    matched += [f"appel {call}"] if call and call in slot.calls else []
    expertise = "expertise " + " et ".join(matched) if matched else "sans expertise déclarée pour cette question"
    limit = f"/{slot.max_load}" if slot.max_load else ""
    return user, f"référent choisi : {user.name} ({expertise}, charge {load}{limit})"


def add_absence(user: User, *, starts_on: date, ends_on: date, reason: str = "",
                by: User | None = None) -> ReferentAbsence:
    """Record a period during which the référent receives no new request."""
    if ends_on < starts_on:
        raise ExpertError(_("La date de fin de l'absence précède sa date de début."))
    absence = ReferentAbsence(user_id=user.id, starts_on=starts_on, ends_on=ends_on, reason=reason.strip()[:200],
                              created_by_id=by.id if by is not None else None)
    db.session.add(absence)
    db.session.flush()
    return absence


def remove_absence(user: User, absence_id: int) -> bool:
    """Delete one of the référent's absence periods; False when it is not theirs."""
    absence = db.session.get(ReferentAbsence, absence_id)
    if absence is None or absence.user_id != user.id:
        return False
    db.session.delete(absence)
    db.session.flush()
    return True


def absences_of(user: User) -> list[ReferentAbsence]:
    """The référent's absence periods, soonest first."""
    return list(db.session.scalars(sa.select(ReferentAbsence).where(ReferentAbsence.user_id == user.id)
                                   .order_by(ReferentAbsence.starts_on)))


# --- Référents and agents' suggestions ---------------------------------------------------------------


def save_referent_profile(user: User, *, group_id: int | None, topics: list[str], calls: list[str],
                          available: bool, max_load: int) -> ReferentProfile:
    """Create or update a référent's group, expertise and availability."""
    profile = db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == user.id))
    if profile is None:
        profile = ReferentProfile(user=user)
        db.session.add(profile)
    if group_id and group_id not in dict(referent_groups()):
        raise ExpertError(_("Cette file n'est pas un groupe de référents."))
    profile.group_id = group_id or None
    profile.topics = sorted({t.strip().lower() for t in topics if t.strip()})
    profile.calls = sorted({c.strip().upper() for c in calls if c.strip()})
    profile.available = available
    profile.max_load = max_load
    db.session.flush()
    return profile


def suggested_articles(text: str, project_reference: str | None = None, k: int = 3) -> list[tuple]:
    """(article, candidate) pairs for the agent: a fresh search on a ticket's subject and first message."""
    call, _state = project_context(project_reference)
    detection = detect_question_call(text, today=date.today(), project_call=call)
    candidates, articles = search_candidates(text, call=detection.code, k=k)
    return [(articles[c.article_id], c) for c in candidates if c.article_id in articles]


# --- The requester's answer to an automatic reply ---------------------------------------------------


def waiting_decision(ticket, *, auto_answered: bool) -> TriageDecision:
    """The decision whose automatic answer still awaits the requester's reply, else ExpertError."""
    decision = latest_decision(ticket)
    if not auto_answered or decision is None or decision.outcome != Outcome.AUTO_ANSWERED:
        raise ExpertError(_("Cette demande n'attend plus de réponse sur la proposition automatique."))
    return decision


def record_outcome(decision: TriageDecision, outcome: str, *, now: datetime) -> TriageDecision:
    """What the requester did after the automatic answer (deflected or escalated)."""
    decision.outcome, decision.outcome_at = outcome, now
    db.session.flush()
    return decision
