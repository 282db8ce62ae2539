"""Declarative triage rules: parse, validate and evaluate them on a question (pure, no database).

A rule set is an ordered list of rules. Each rule has conditions (all must hold; a rule without
conditions always fires) and actions. Rules are evaluated in order; an earlier rule's action wins
over a later one's for the same action, and a rule with ``stop: true`` ends the evaluation when it
fires. Every fired rule leaves a French explanation, e.g.
``règle R4 « Avenants » : mot-clé « prolongation » trouvé (« prolonger ») → Référents avenants``.

Conditions and actions are small strategies registered by name (see CONDITIONS and ACTIONS), so a
new kind of condition is one class here and nothing else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import re2

from knowledge_base.text import call_key, fold, stem_word, tokens

log = logging.getLogger(__name__)

PRIORITIES = ("low", "normal", "high", "urgent")
#: Requester profiles a rule may test: who is asking (anonymous or logged in) and their portal profiles.
PROFILES = ("anonymous", "requester", "staff", "headquarters", "entity", "lab_director", "coordinator",
            "scientific_lead", "administrative_lead")
PROJECT_STATES = ("submission", "selected", "contracting", "follow_up", "closed", "abandoned")
#: Phrases that signal urgency, matched on stems so "dates limites" and "clôturé" count.
URGENCY_CUES = ("date limite", "clôture", "urgent", "urgence", "au plus vite", "dernier délai", "dès que possible")

OUTCOME_AUTO_ANSWERED = "auto_answered"
OUTCOME_ROUTED = "routed"
OUTCOME_HUMAN = "human"


class RuleError(ValueError):
    """A rule set is invalid; the message (French) says which rule and why."""


def _fr_number(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


# --- The question being triaged ----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A knowledge-base article proposed for the question, with the matcher's score and confidence."""

    article_id: int | str
    title: str
    score: float
    confidence: float
    matched_text: str = ""
    external_id: str = ""
    #: The calls the article is limited to (empty: every call).
    calls: tuple[str, ...] = ()


@dataclass
class Question:
    """Everything a rule may look at: the text, its context and the candidate articles (best first)."""

    subject: str
    body: str = ""
    topic: str | None = None
    call: str | None = None
    profiles: frozenset[str] = frozenset({"anonymous"})
    project_state: str | None = None
    channel: str | None = None
    candidates: Sequence[Candidate] = ()
    today: date = field(default_factory=date.today)
    #: Whether the detected call (``call``) is open today (None: no call, or its dates are unknown).
    call_open: bool | None = None
    #: The calls the question may be about when it names several (no call detected then).
    call_choices: tuple[str, ...] = ()
    #: Where the detected call comes from (expert.calls.SOURCES).
    call_source: str | None = None

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.body}".strip()

    @cached_property
    def folded(self) -> str:
        return fold(self.text)

    @cached_property
    def words(self) -> list[str]:
        """Folded content words, in order (stop words and elisions removed)."""
        return tokens(self.text)

    @cached_property
    def stems(self) -> list[str]:
        return [stem_word(w) for w in self.words]

    @cached_property
    def dates(self) -> list[date]:
        return find_dates(self.text, self.today)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def confidence(self) -> float:
        return self.best.confidence if self.best else 0.0


# --- Keywords and dates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyword:
    """A keyword or phrase as the rule author wrote it, and its stems for matching."""

    text: str
    stems: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Keyword:
        stems = tuple(stem_word(w) for w in tokens(str(text)))
        if not stems:
            raise RuleError(f"mot-clé « {text} » vide une fois les mots outils retirés")
        return cls(str(text), stems)

    def find(self, question: Question) -> str | None:
        """The words of the question that match this keyword (stems in sequence), or None."""
        n = len(self.stems)
        haystack = question.stems
        for i in range(len(haystack) - n + 1):
            if tuple(haystack[i:i + n]) == self.stems:
                return " ".join(question.words[i:i + n])
        return None


MONTHS = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4, "avr": 4, "mai": 5,
    "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9, "sept": 9, "octobre": 10, "oct": 10,
    "novembre": 11, "nov": 11, "decembre": 12, "dec": 12,
}
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
# With a year any of / . - separates; without one only "/" does (so "2.5 M€" is not a date).
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})(?:([/.-])(\d{1,2})\2(\d{4}|\d{2})|/(\d{1,2}))\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WRITTEN_DATE = re.compile(rf"\b(\d{{1,2}})(?:er)?\s+({_MONTH_NAMES})\.?(?:\s+(\d{{4}}))?\b")
_IN_DAYS = re.compile(r"\bdans\s+(\d{1,3})\s+jours?\b")
_RELATIVE = {"aujourd'hui": 0, "aujourd hui": 0, "ce soir": 0, "apres-demain": 2, "apres demain": 2, "demain": 1}


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _without_year(month: int, day: int, today: date) -> date | None:
    """A day and month without a year: the next such day from today (this year or the next)."""
    this_year = _make_date(today.year, month, day)
    if this_year is None:
        return _make_date(today.year + 1, month, day)
    return this_year if this_year >= today else _make_date(today.year + 1, month, day)


def find_dates(text: str, today: date) -> list[date]:
    """Dates written in French in the text: 15/03/2026, 15/03, 2026-03-15, 1er avril 2026, demain, dans 3 jours."""
    folded = fold(text)
    found: list[date] = []
    taken: list[tuple[int, int]] = []
    for match in _ISO_DATE.finditer(folded):
        taken.append(match.span())
        found.append(_make_date(int(match[1]), int(match[2]), int(match[3])))
    for match in _NUMERIC_DATE.finditer(folded):
        if any(a <= match.start() < b for a, b in taken):
            continue
        day, month = int(match[1]), int(match[3] or match[5])
        if match[4]:
            year = int(match[4])
            found.append(_make_date(year + 2000 if year < 100 else year, month, day))
        else:
            found.append(_without_year(month, day, today))
    for match in _WRITTEN_DATE.finditer(folded):
        day, month = int(match[1]), MONTHS[match[2]]
        found.append(_make_date(int(match[3]), month, day) if match[3] else _without_year(month, day, today))
    for match in _IN_DAYS.finditer(folded):
        found.append(today + timedelta(days=int(match[1])))
    for phrase, days in _RELATIVE.items():
        if re.search(rf"\b{re.escape(phrase)}\b", folded):
            found.append(today + timedelta(days=days))
            break
    return sorted({d for d in found if d is not None})


# --- Conditions ----------------------------------------------------------------------------------


def _as_list(name: str, value: Any) -> list:
    if isinstance(value, str | int | float):
        return [value]
    if isinstance(value, list | tuple) and value:
        return list(value)
    raise RuleError(f"condition « {name} » : une valeur ou une liste non vide est attendue")


def _choices(name: str, value: Any, allowed: Iterable[str] | None = None) -> tuple[str, ...]:
    values = tuple(str(v) for v in _as_list(name, value))
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise RuleError(f"condition « {name} » : valeur inconnue « {unknown[0]} »")
    return values


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"« {v} »" for v in values)


#: The French label of every condition and action key (translated with `_()` where they are displayed).
KEY_LABELS = {
    "topic": "Thème parmi",
    "keywords": "Un des mots-clés",
    "all_keywords": "Tous les mots-clés",
    "patterns": "Une des expressions régulières (texte sans accents, en minuscules ; syntaxe RE2)",
    "call": "Appel à projets détecté parmi",
    "call_open": "Appel détecté ouvert (true) ou non (false)",
    "profile": "Profil du demandeur parmi",
    "project_state": "État du projet parmi",
    "channel": "Canal parmi",
    "urgency": "Indice d'urgence (« date limite », « clôture », « urgent »…)",
    "deadline_within_days": "Date citée dans les N prochains jours",
    "confidence_gte": "Confiance du meilleur article ≥",
    "confidence_lt": "Confiance du meilleur article <",
    "auto_answer": "Réponse automatique (« best » ou identifiant d'article)",
    "route_to_group": "Orienter vers le groupe (file)",
    "set_priority": "Fixer la priorité",
    "set_topic": "Fixer le thème",
    "require_human": "Exiger un traitement humain",
}


class Condition:
    """One kind of condition: parse() validates the YAML value, check() returns a reason or None."""

    name = ""

    @property
    def label(self) -> str:
        return KEY_LABELS[self.name]

    def parse(self, value: Any) -> Any:
        return value

    def check(self, spec: Any, question: Question) -> str | None:
        raise NotImplementedError


class TopicCondition(Condition):
    name = "topic"

    def parse(self, value):
        return _choices(self.name, value)

    def check(self, spec, question):
        if question.topic in spec:
            return f"thème « {question.topic} »"
        return None


class KeywordsCondition(Condition):
    name = "keywords"

    def parse(self, value):
        return tuple(Keyword.parse(v) for v in _as_list(self.name, value))

    def check(self, spec, question):
        for keyword in spec:
            found = keyword.find(question)
            if found is not None:
                shown = "" if fold(keyword.text) == found else f" (« {found} »)"
                return f"mot-clé « {keyword.text} » trouvé{shown}"
        return None


class AllKeywordsCondition(KeywordsCondition):
    name = "all_keywords"

    def check(self, spec, question):
        if all(k.find(question) is not None for k in spec):
            return f"mots-clés {_quoted(k.text for k in spec)} trouvés"
        return None


#: RE2 runs the administrators' patterns in time linear in the text (no backtracking: `(a+)+$` cannot hang a
#: request); the project's own fixed patterns stay with Python's `re`.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
#: What RE2 says (its message starts with) → why, in French.
_RE2_REASONS = (
    ("invalid escape sequence: \\", "séquence d'échappement inconnue de RE2"),
    ("invalid perl operator: (?=", "les assertions avant (?=…) ne sont pas acceptées"),
    ("invalid perl operator: (?!", "les assertions avant négatives (?!…) ne sont pas acceptées"),
    ("invalid perl operator: (?<", "les assertions arrière (?<=…), (?<!…) ne sont pas acceptées"),
    ("invalid perl operator: (?P", "les références arrière nommées (?P=…) ne sont pas acceptées"),
    ("missing )", "parenthèse non fermée"),
    ("unexpected )", "parenthèse fermante en trop"),
    ("missing ]", "crochet non fermé"),
    ("invalid repetition size", "répétition de plus de 1000 fois"),
    ("bad repetition operator", "opérateur de répétition mal placé"),
    ("missing argument to repetition operator", "rien à répéter avant *, + ou ?"),
    ("pattern too large", "expression trop grande"),
)
_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")
#: The syntax of a pattern that folding would change: escapes (\D is not \d, \p{Lu}) and named groups (?P<…>).
_PATTERN_SYNTAX = re.compile(r"\\[pP]\{[^}]*\}|\\.|\(\?P", re.DOTALL)


def fold_pattern(raw: str) -> str:
    """Fold the literal text of a pattern as the question is folded (lower case, no accents), not its syntax."""
    parts, last = [], 0
    for match in _PATTERN_SYNTAX.finditer(raw):
        parts += [fold(raw[last:match.start()]), match[0]]
        last = match.end()
    return "".join([*parts, fold(raw[last:])])


def compile_pattern(pattern: str, shown: str | None = None) -> re2._Regexp:
    """Compile an administrator's pattern with RE2, or raise RuleError naming it (as written: ``shown``) in French."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        detail = error.args[0] if error.args else ""
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        if _BACKREFERENCE.match(detail):
            reason = "les références arrière (\\1, \\2…) ne sont pas acceptées"
        else:
            reason = next((why for start, why in _RE2_REASONS if detail.startswith(start)), "syntaxe non acceptée")
        raise RuleError(f"expression « {pattern if shown is None else shown} » invalide : {reason} (moteur RE2, "
                        f"sans retour arrière ; détail : {detail})") from None


class PatternsCondition(Condition):
    """Regular expressions on the folded text, run by RE2: RE2's syntax, no back-references nor look-arounds."""

    name = "patterns"

    def parse(self, value):
        return tuple(compile_pattern(fold_pattern(str(raw)), shown=str(raw)) for raw in _as_list(self.name, value))

    def check(self, spec, question):
        for pattern in spec:
            match = pattern.search(question.folded)
            if match:
                return f"expression « {pattern.pattern} » reconnue (« {match.group(0)} »)"
        return None


class CallCondition(Condition):
    name = "call"

    def parse(self, value):
        return tuple(call_key(v) for v in _choices(self.name, value))

    def check(self, spec, question):
        if question.call and call_key(question.call) in spec:
            return f"appel « {question.call} »"
        return None


class CallOpenCondition(Condition):
    name = "call_open"

    def parse(self, value):
        if not isinstance(value, bool):
            raise RuleError(f"condition « {self.name} » : true ou false est attendu")
        return value

    def check(self, spec, question):
        if question.call is None or question.call_open is None or question.call_open is not spec:
            return None
        return f"appel « {question.call} » {'ouvert' if spec else 'fermé'}"


class ProfileCondition(Condition):
    name = "profile"

    def parse(self, value):
        return _choices(self.name, value, PROFILES)

    def check(self, spec, question):
        common = [p for p in spec if p in question.profiles]
        return f"profil « {common[0]} »" if common else None


class ProjectStateCondition(Condition):
    name = "project_state"

    def parse(self, value):
        return _choices(self.name, value, PROJECT_STATES)

    def check(self, spec, question):
        if question.project_state in spec:
            return f"projet à l'état « {question.project_state} »"
        return None


class ChannelCondition(Condition):
    name = "channel"

    def parse(self, value):
        return _choices(self.name, value, ("web", "portal", "email", "api"))

    def check(self, spec, question):
        return f"canal « {question.channel} »" if question.channel in spec else None


class UrgencyCondition(Condition):
    name = "urgency"

    def parse(self, value):
        if value is True:
            return tuple(Keyword.parse(c) for c in URGENCY_CUES)
        return tuple(Keyword.parse(v) for v in _as_list(self.name, value))

    def check(self, spec, question):
        for cue in spec:
            found = cue.find(question)
            if found is not None:
                return f"indice d'urgence « {found} »"
        return None


class DeadlineCondition(Condition):
    name = "deadline_within_days"

    def parse(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RuleError(f"condition « {self.name} » : un nombre de jours positif est attendu")
        return value

    def check(self, spec, question):
        for day in question.dates:
            delta = (day - question.today).days
            if 0 <= delta <= spec:
                return f"date du {day:%d/%m/%Y} dans {delta} jour(s) (≤ {spec})"
        return None


class _ConfidenceCondition(Condition):
    def parse(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise RuleError(f"condition « {self.name} » : un nombre entre 0 et 1 est attendu")
        return float(value)


class ConfidenceAtLeast(_ConfidenceCondition):
    name = "confidence_gte"

    def check(self, spec, question):
        if question.best is not None and question.confidence >= spec:
            return f"confiance {_fr_number(question.confidence)} ≥ {_fr_number(spec)}"
        return None


class ConfidenceBelow(_ConfidenceCondition):
    name = "confidence_lt"

    def check(self, spec, question):
        if question.confidence < spec:
            return f"confiance {_fr_number(question.confidence)} < {_fr_number(spec)}"
        return None


CONDITIONS: dict[str, Condition] = {
    c.name: c for c in (
        TopicCondition(), KeywordsCondition(), AllKeywordsCondition(), PatternsCondition(), CallCondition(),
        CallOpenCondition(), ProfileCondition(), ProjectStateCondition(), ChannelCondition(), UrgencyCondition(),
        DeadlineCondition(), ConfidenceAtLeast(), ConfidenceBelow(),
    )
}


# --- Actions -------------------------------------------------------------------------------------


def _parse_auto_answer(value: Any) -> str | int:
    if value is True or value == "best":
        return "best"
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
        return value
    raise RuleError("action « auto_answer » : « best » ou l'identifiant d'un article est attendu")


def _parse_slug(name: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
            raise RuleError(f"action « {name} » : un identifiant (slug) est attendu")
        return value
    return parse


def _parse_priority(value: Any) -> str:
    if value not in PRIORITIES:
        raise RuleError(f"action « set_priority » : une priorité parmi {', '.join(PRIORITIES)} est attendue")
    return value


def _parse_true(value: Any) -> bool:
    if value is not True:
        raise RuleError("action « require_human » : la valeur true est attendue")
    return True


#: Action name → (label, parser).
ACTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "auto_answer": (KEY_LABELS["auto_answer"], _parse_auto_answer),
    "route_to_group": (KEY_LABELS["route_to_group"], _parse_slug("route_to_group")),
    "set_priority": (KEY_LABELS["set_priority"], _parse_priority),
    "set_topic": (KEY_LABELS["set_topic"], _parse_slug("set_topic")),
    "require_human": (KEY_LABELS["require_human"], _parse_true),
}


# --- Rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A validated rule, ready to evaluate."""

    code: str
    name: str
    conditions: Mapping[str, Any]
    actions: Mapping[str, Any]
    stop: bool = False
    enabled: bool = True
    parsed: tuple[tuple[Condition, Any], ...] = ()

    def to_dict(self) -> dict:
        """The rule as written in YAML (original condition values, not their parsed form)."""
        return {"code": self.code, "name": self.name, "enabled": self.enabled, "stop": self.stop,
                "conditions": dict(self.conditions), "actions": dict(self.actions)}


RULE_KEYS = {"code", "name", "enabled", "stop", "conditions", "actions"}


def parse_rule(data: Mapping[str, Any], position: int = 1) -> Rule:
    """Validate one rule given as a mapping (from YAML, a form or the database)."""
    where = f"règle n° {position}"
    if not isinstance(data, Mapping):
        raise RuleError(f"{where} : un dictionnaire est attendu")
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise RuleError(f"{where} : clé inconnue « {sorted(unknown)[0]} »")
    code = str(data.get("code") or f"R{position}").strip()
    name = str(data.get("name") or "").strip()
    where = f"règle {code}"
    if not name:
        raise RuleError(f"{where} : le nom est obligatoire")
    conditions = data.get("conditions") or {}
    actions = data.get("actions") or {}
    if not isinstance(conditions, Mapping) or not isinstance(actions, Mapping):
        raise RuleError(f"{where} : « conditions » et « actions » doivent être des dictionnaires")
    if not actions:
        raise RuleError(f"{where} : au moins une action est attendue")
    parsed = []
    try:
        for key, value in conditions.items():
            if key not in CONDITIONS:
                raise RuleError(f"condition inconnue « {key} »")
            parsed.append((CONDITIONS[key], CONDITIONS[key].parse(value)))
        clean_actions = {}
        for key, value in actions.items():
            if key not in ACTIONS:
                raise RuleError(f"action inconnue « {key} »")
            clean_actions[key] = ACTIONS[key][1](value)
    except RuleError as error:
        raise RuleError(f"{where} : {error}") from None
    for flag in ("stop", "enabled"):
        if flag in data and not isinstance(data[flag], bool):
            raise RuleError(f"{where} : « {flag} » doit valoir true ou false")
    return Rule(code=code, name=name, conditions=dict(conditions), actions=clean_actions,
                stop=bool(data.get("stop", False)), enabled=bool(data.get("enabled", True)), parsed=tuple(parsed))


def parse_rules(items: Any) -> list[Rule]:
    """Validate an ordered rule set; codes must be unique."""
    if items is None:
        return []
    if isinstance(items, Mapping) and "rules" in items:
        items = items["rules"]
    if not isinstance(items, list):
        raise RuleError("une liste de règles est attendue")
    rules = [parse_rule(item, position) for position, item in enumerate(items, start=1)]
    seen: set[str] = set()
    for rule in rules:
        if rule.code in seen:
            raise RuleError(f"le code de règle « {rule.code} » est utilisé deux fois")
        seen.add(rule.code)
    return rules


def parse_stored_rules(items: Any) -> list[Rule]:
    """A stored rule set, for evaluation: a rule the engine no longer accepts is left out (and logged), not fatal.

    A pattern saved before the patterns ran on RE2 may be refused now (a back-reference); refusing the whole set
    would stop every submission. Saving goes through parse_rules, which refuses it with its message.
    """
    if isinstance(items, Mapping) and "rules" in items:
        items = items["rules"]
    rules = []
    for position, item in enumerate(items or [], start=1):
        try:
            rules.append(parse_rule(item, position))
        except RuleError as error:
            log.error("stored triage rule left out: %s", error)
    return rules


# --- Evaluation ----------------------------------------------------------------------------------


@dataclass
class RuleHit:
    """A rule that fired: why, what it asked for, and its explanation sentence."""

    code: str
    name: str
    reasons: list[str]
    actions: dict
    stop: bool
    explanation: str


@dataclass
class Decision:
    """The outcome of a rule set on a question, with one French explanation per fired rule."""

    hits: list[RuleHit] = field(default_factory=list)
    action: str = OUTCOME_HUMAN
    route_to: str | None = None
    priority: str | None = None
    topic: str | None = None
    require_human: bool = False
    article_id: int | str | None = None
    confidence: float = 0.0
    notes: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    #: The calls to offer the requester when an answer waits for the call of the question (see _call_refusal).
    call_choices: list[str] = field(default_factory=list)
    #: A passage of a call document close to the question when no article answers (knowledge_base PassageMatch).
    passage: Any = None

    @property
    def explanations(self) -> list[str]:
        return [hit.explanation for hit in self.hits] + self.notes

    @property
    def rules_matched(self) -> list[str]:
        return [hit.code for hit in self.hits]

    def to_dict(self) -> dict:
        return {
            "action": self.action, "route_to": self.route_to, "priority": self.priority, "topic": self.topic,
            "require_human": self.require_human, "article_id": self.article_id, "confidence": self.confidence,
            "rules": [asdict(hit) for hit in self.hits], "notes": list(self.notes),
            "explanations": self.explanations, "candidates": [asdict(c) for c in self.candidates],
            "call_choices": list(self.call_choices),
        }


def _describe(action: str, value: Any, labels: Mapping[str, str], question: Question) -> str:
    if action == "route_to_group":
        return labels.get(value, value)
    if action == "set_priority":
        return f"priorité {labels.get(value, value)}"
    if action == "set_topic":
        return f"thème {labels.get(value, value)}"
    if action == "require_human":
        return "traitement par un conseiller"
    if value == "best":
        best = question.best
        return f"réponse automatique « {best.title} »" if best else "réponse automatique (aucun article candidat)"
    return f"réponse automatique avec l'article {value}"


def evaluate(rules: Sequence[Rule], question: Question, *, threshold: float,
             labels: Mapping[str, str] | None = None) -> Decision:
    """Run the rules in order on the question; auto-answer only when a rule asks and confidence >= threshold."""
    labels = labels or {}
    decision = Decision(candidates=list(question.candidates), confidence=question.confidence)
    requested: dict[str, Any] = {}
    for rule in rules:
        if not rule.enabled:
            continue
        reasons = []
        for condition, spec in rule.parsed:
            reason = condition.check(spec, question)
            if reason is None:
                break
            reasons.append(reason)
        else:
            if not rule.parsed:
                reasons.append("règle générale (sans condition)")
            effects = " ; ".join(_describe(a, v, labels, question) for a, v in rule.actions.items())
            explanation = f"règle {rule.code} « {rule.name} » : {', '.join(reasons)} → {effects}"
            decision.hits.append(RuleHit(rule.code, rule.name, reasons, dict(rule.actions), rule.stop, explanation))
            for action, value in rule.actions.items():
                requested.setdefault(action, value)  # the earlier rule wins
            if rule.stop:
                break
    decision.route_to = requested.get("route_to_group")
    decision.priority = requested.get("set_priority")
    decision.topic = requested.get("set_topic")
    decision.require_human = bool(requested.get("require_human"))
    _settle_auto_answer(decision, requested.get("auto_answer"), question, threshold)
    if decision.action != OUTCOME_AUTO_ANSWERED:
        decision.action = OUTCOME_ROUTED if decision.route_to else OUTCOME_HUMAN
    if not decision.hits:
        decision.notes.append("aucune règle ne s'applique : traitement par la file du thème")
    return decision


def _settle_auto_answer(decision: Decision, wanted: Any, question: Question, threshold: float) -> None:
    """Grant the auto-answer a rule asked for, or record why it was refused."""
    if wanted is None:
        return
    if decision.require_human:
        decision.notes.append("réponse automatique écartée : une règle exige un traitement humain")
        return
    if wanted == "best":
        chosen = question.best
    else:
        chosen = next((c for c in question.candidates if str(wanted) in (str(c.article_id), c.external_id)), None)
    if chosen is None:
        decision.notes.append("réponse automatique écartée : aucun article candidat ne correspond")
        return
    if chosen.confidence < threshold:
        decision.notes.append(
            f"réponse automatique écartée : confiance {_fr_number(chosen.confidence)} "
            f"< seuil {_fr_number(threshold)}"
        )
        return
    refusal = _call_refusal(chosen, question)
    if refusal is not None:
        decision.notes.append(refusal[0])
        decision.call_choices = list(refusal[1])
        return
    decision.action = OUTCOME_AUTO_ANSWERED
    decision.article_id = chosen.article_id
    decision.confidence = chosen.confidence


def _call_refusal(chosen: Candidate, question: Question) -> tuple[str, tuple[str, ...]] | None:
    """Why an article limited to some calls may not answer this question, and the calls to offer; None if it may.

    Never a guess: an article limited to calls answers only a question whose detected call it lists.
    """
    if not chosen.calls:
        return None
    keys = {call_key(c) for c in chosen.calls}
    if question.call_choices and all(call_key(c) in keys for c in question.call_choices):
        return None  # whichever of the calls in question it is, the article holds
    if question.call is not None:
        if call_key(question.call) in keys:
            return None
        return (f"réponse automatique écartée : l'article « {chosen.title} » concerne {_quoted(chosen.calls)}, "
                f"pas l'appel « {question.call} »", ())
    offered = question.call_choices or tuple(chosen.calls)
    return (f"réponse automatique suspendue : l'article « {chosen.title} » ne vaut que pour "
            f"{_quoted(chosen.calls)} et l'appel de la question n'est pas identifié → appel demandé au demandeur "
            f"parmi {_quoted(offered)}", tuple(offered))
