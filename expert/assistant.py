"""The assistant's next reply to a question, and what it reads of the intent (pure: no database).

Given the candidate articles (best first, with their calibrated confidence), the call detection and the
auto-answer threshold, :func:`next_reply` chooses one of:

- **answer** with the best article, when it is confident (at least the threshold) and no other candidate is close;
- **ask which article** (one click per option), when two or three candidates are close to the best and at least
  ``CLOSE_FLOOR``: « Votre question porte-t-elle sur… ? »;
- **ask which call**, when the article to answer with is limited to some calls and the question's call is not
  known (expert.calls never guesses): « Votre question concerne-t-elle l'appel X ou l'appel Y ? »;
- **no answer**, otherwise (the question joins the knowledge-base gaps).

At most one clarifying question per question: once the person has clicked, the assistant answers or says it has
no sure answer. A person may always hand the conversation to an advisor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from expert.rules import URGENCY_CUES, Candidate, Keyword, Question
from knowledge_base.text import call_key

#: A candidate this close (in confidence) to the best one makes the choice unsure: ask.
CLOSE_GAP = 0.2
#: Candidates below this confidence are never offered as options.
CLOSE_FLOOR = 0.5
#: At most this many options in a clarifying question.
MAX_OPTIONS = 3
#: A date written in the question at most this many days ahead is an urgency cue.
URGENT_DAYS = 7

ANSWER, ASK_ARTICLE, ASK_CALL, NO_ANSWER = "answer", "ask_article", "ask_call", "no_answer"

#: Stages of a project's life, the phrases that point to them, and the project states that mean them.
STAGES = {
    "submission": ("dépôt", "déposer", "soumettre", "soumission", "candidature", "candidater", "pré-proposition",
                   "proposition complète", "plateforme de dépôt", "recevabilité", "éligibilité", "éligible"),
    "evaluation": ("évaluation", "évaluer", "expert", "comité", "résultat", "sélection", "classement",
                   "liste complémentaire", "rapport d'évaluation", "recours", "droit de réponse"),
    "contracting": ("convention", "conventionnement", "contractualisation", "acte attributif", "signature de la "
                    "convention", "annexe financière", "engagement juridique"),
    "follow_up": ("versement", "avenant", "prolongation", "prolonger", "rapport final", "rapport intermédiaire",
                  "justificatif", "état récapitulatif", "dépenses", "reversement", "modification du projet"),
}
STAGE_LABELS = {"submission": "dépôt", "evaluation": "évaluation", "contracting": "conventionnement",
                "follow_up": "suivi du projet"}
#: The project states (expert.rules.PROJECT_STATES) that place a project at a stage.
PROJECT_STAGES = {"submission": "submission", "selected": "contracting", "contracting": "contracting",
                  "follow_up": "follow_up"}
#: The article topics of each stage, used to put its candidates first in a clarifying question.
STAGE_TOPICS = {"submission": ("depot", "eligibilite", "calendrier"), "evaluation": ("evaluation",),
                "contracting": ("financement", "avenant"), "follow_up": ("versements", "avenant", "financement")}

_STAGE_KEYWORDS = {stage: tuple(Keyword.parse(p) for p in phrases) for stage, phrases in STAGES.items()}
_URGENCY_KEYWORDS = tuple(Keyword.parse(p) for p in URGENCY_CUES)


@dataclass(frozen=True)
class Option:
    """One click of a clarifying question: an article id or a call code, and its label."""

    value: str
    label: str


@dataclass(frozen=True)
class Reply:
    """What the assistant says next."""

    kind: str
    candidate: Candidate | None = None
    options: tuple[Option, ...] = ()
    #: Why, in French, for the managers' view and the request's explanation.
    reason: str = ""


@dataclass
class Intent:
    """What the assistant reads of a question: topic, stage, urgency, each with its reason."""

    topic: str | None = None
    stage: str | None = None
    urgent: bool = False
    reasons: list[str] = field(default_factory=list)


def _number(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def read_intent(text: str, *, today: date, best_topic: str | None = None, best_confidence: float = 0.0,
                project_state: str | None = None, topic_labels: dict[str, str] | None = None) -> Intent:
    """Topic (of the closest article, when at least CLOSE_FLOOR), stage (the text's phrases, else the linked
    project's state) and urgency (a cue of expert.rules.URGENCY_CUES, or a date within URGENT_DAYS); the reasons
    name the topic by its label (``topic_labels``: slug -> label)."""
    question = Question(subject=text, today=today)
    intent = Intent()
    if best_topic and best_confidence >= CLOSE_FLOOR:
        intent.topic = best_topic
        intent.reasons.append(f"thème « {(topic_labels or {}).get(best_topic, best_topic)} » : celui de l'article "
                              f"le plus proche (confiance {_number(best_confidence)})")
    for stage, keywords in _STAGE_KEYWORDS.items():
        found = next((hit for hit in (k.find(question) for k in keywords) if hit is not None), None)
        if found is not None:
            intent.stage = stage
            intent.reasons.append(f"étape « {STAGE_LABELS[stage]} » : « {found} » dans la question")
            break
    else:
        if project_state in PROJECT_STAGES:
            intent.stage = PROJECT_STAGES[project_state]
            intent.reasons.append(f"étape « {STAGE_LABELS[intent.stage]} » : état du projet lié")
    cue = next((hit for hit in (k.find(question) for k in _URGENCY_KEYWORDS) if hit is not None), None)
    soon = [d for d in question.dates if today <= d <= today + timedelta(days=URGENT_DAYS)]
    if cue is not None:
        intent.urgent = True
        intent.reasons.append(f"urgence : « {cue} » dans la question")
    elif soon:
        intent.urgent = True
        intent.reasons.append(f"urgence : échéance du {soon[0].strftime('%d/%m/%Y')} dans moins de "
                              f"{URGENT_DAYS} jours")
    return intent


def _limited_to_other_calls(candidate: Candidate, call: str | None) -> bool:
    return bool(candidate.calls) and call is not None and call_key(call) not in {call_key(c) for c in candidate.calls}


def next_reply(candidates: Sequence[Candidate], *, threshold: float, call: str | None,
               call_choices: Sequence[str] = (), may_ask: bool = True, stage: str | None = None,
               topics: dict | None = None, call_labels: dict | None = None) -> Reply:
    """The next reply to a question (see the module's docstring).

    ``call``: the call the question is about (None: unknown), ``call_choices``: the calls it may be about when it
    names several; ``may_ask``: False once a clarifying question was asked for this question; ``stage`` and
    ``topics`` (article id -> topic) put the candidates of the question's stage first; ``call_labels``: code ->
    label of the calls to offer.
    """
    usable = [c for c in candidates if not _limited_to_other_calls(c, call)]
    if not usable:
        why = "aucun article candidat" if not candidates else f"les articles proches ne valent pas pour l'appel {call}"
        return Reply(NO_ANSWER, reason=why)
    best = usable[0]
    close = [c for c in usable[1:] if c.confidence >= max(CLOSE_FLOOR, best.confidence - CLOSE_GAP)]
    if may_ask and close and best.confidence >= CLOSE_FLOOR:
        options = [best, *close][:MAX_OPTIONS]
        if stage in STAGE_TOPICS and topics:
            options.sort(key=lambda c: topics.get(c.article_id) not in STAGE_TOPICS[stage])  # stable: rank kept
        return Reply(ASK_ARTICLE, best, tuple(Option(str(c.article_id), c.title) for c in options),
                     f"{len(options)} articles proches (confiance {_number(best.confidence)} et "
                     f"{_number(close[0].confidence)}) : précision demandée")
    if best.confidence < threshold:
        return Reply(NO_ANSWER, best, reason=f"confiance {_number(best.confidence)} < seuil {_number(threshold)}")
    if best.calls and call is None:
        keys = {call_key(c) for c in best.calls}
        if call_choices and all(call_key(c) in keys for c in call_choices):
            return Reply(ANSWER, best, reason="l'article vaut pour chacun des appels cités")
        if not may_ask:
            return Reply(ANSWER, best, reason="appel non précisé : l'article est donné avec les appels qu'il vise")
        offered = [c for c in call_choices if call_key(c) in keys] or list(best.calls)
        labels = call_labels or {}
        return Reply(ASK_CALL, best, tuple(Option(c, labels.get(c, c)) for c in offered[:MAX_OPTIONS + 1]),
                     f"l'article « {best.title} » ne vaut que pour certains appels et l'appel de la question "
                     "n'est pas identifié : appel demandé")
    return Reply(ANSWER, best, reason=f"confiance {_number(best.confidence)} ≥ seuil {_number(threshold)}")


def choose_article(candidates: Sequence[Candidate], article_id: str) -> Candidate | None:
    """The candidate the person clicked, if it was among those offered."""
    return next((c for c in candidates if str(c.article_id) == article_id), None)
