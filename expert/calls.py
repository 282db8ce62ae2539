"""The call for proposals a question is about: the catalogue of calls (cached per process) and its detection.

A call is detected, in this order, from the requester's choice on the follow page, the call chosen on the request
form, the linked project's call, or the codes, names, acronyms and other names of the calls written in the text.
The text never overrides a call the context gives: when it names another call, or several calls, or an acronym
shared by several calls none of which stands out (a year next to it, or the only one open), no call is detected
and the calls in question are kept as the choices to offer (see expert.rules._call_refusal). Never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm.core import refcache
from crm.projects.models import Call, CallState, Project
from knowledge_base.text import call_key, stem_word, tokens

#: Where a detected call comes from, and how the explanation says it.
SOURCES = {
    "choice": "choisi par le demandeur sur la page de suivi",
    "form": "choisi sur le formulaire de demande",
    "project": "appel du projet lié",
    "text": "cité dans la question",
}
_YEAR = re.compile(r"(19|20)\d\d")
_CODE_WITH_YEAR = re.compile(r"([^\W\d_]+)[\W_]*((?:19|20)\d\d)")
#: Stems too common to name a call on their own (a name reduced to these is ignored).
_GENERIC = frozenset({"appel", "projet", "recherch", "programm", "general", "nouveau"})


@dataclass(frozen=True)
class KnownCall:
    """A call as detection sees it (read-only, shared by the requests of a process)."""

    code: str
    name: str = ""
    acronyms: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    year: int | None = None
    opens_on: date | None = None
    closes_on: date | None = None
    #: None for a call known only from projects (its state and dates are not described).
    state: str | None = None

    @property
    def key(self) -> str:
        return call_key(self.code)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})" if self.name else self.code

    def is_open_on(self, day: date) -> bool | None:
        """Open on ``day`` (state open and within its dates); None when the state is not described."""
        if self.state is None:
            return None
        return (self.state == CallState.OPEN and (self.opens_on is None or self.opens_on <= day)
                and (self.closes_on is None or day <= self.closes_on))


def _stems(text: str) -> tuple[str, ...]:
    return tuple(stem_word(w) for w in tokens(text))


def _with_year(call: KnownCall) -> list[str]:
    """« AAPG 2026 » for the code AAPG2026, and every acronym followed by the call's year."""
    phrases = []
    match = _CODE_WITH_YEAR.fullmatch(call.code.strip())
    if match:
        phrases.append(f"{match[1]} {match[2]}")
    if call.year:
        phrases += [f"{acronym} {call.year}" for acronym in call.acronyms]
    return phrases


@dataclass(frozen=True)
class _Mention:
    keys: frozenset[str]
    words: str
    resolved_by: str = ""  # "" (one call), "année", "seul ouvert"; ambiguous when len(keys) > 1


class CallCatalogue:
    """Every known call, with the phrases that name them (stems), to find in a question."""

    def __init__(self, calls: Iterable[KnownCall]) -> None:
        self.calls: dict[str, KnownCall] = {}
        for call in calls:
            self.calls.setdefault(call.key, call)
        self._exact: dict[tuple[str, ...], set[str]] = {}
        self._yearless: dict[tuple[str, ...], set[str]] = {}
        for call in self.calls.values():
            for phrase in (call.code, call.key, *_with_year(call)):
                self._add(self._exact, _stems(phrase), call.key)
            for phrase in (call.name, *call.aliases, *call.acronyms):
                stems = _stems(phrase)
                if stems and _YEAR.fullmatch(stems[-1]):
                    self._add(self._exact, stems, call.key)
                    stems = stems[:-1]
                if stems and not set(stems) <= _GENERIC:
                    self._add(self._yearless, stems, call.key)
        self._lengths = sorted({len(p) for p in (*self._exact, *self._yearless)}, reverse=True)

    @staticmethod
    def _add(table: dict, stems: tuple[str, ...], key: str) -> None:
        if stems:
            table.setdefault(stems, set()).add(key)

    def __len__(self) -> int:
        return len(self.calls)

    def get(self, code: str | None) -> KnownCall | None:
        return self.calls.get(call_key(code)) if code else None

    def known(self, code: str) -> KnownCall:
        """The call with this code, or a bare one (code only) for a code the catalogue does not describe."""
        return self.get(code) or KnownCall(code=code.strip())

    def _mentions(self, text: str, day: date) -> list[_Mention]:
        words = tokens(text)
        stems = [stem_word(w) for w in words]
        found, i = [], 0
        while i < len(stems):
            for n in self._lengths:
                phrase = tuple(stems[i:i + n])
                if len(phrase) < n:
                    continue
                if phrase in self._exact:
                    found.append(_Mention(frozenset(self._exact[phrase]), " ".join(words[i:i + n])))
                elif phrase in self._yearless:
                    found.append(self._yearless_mention(self._yearless[phrase], words, stems, i, n, day))
                else:
                    continue
                i += n
                break
            else:
                i += 1
        return found

    def _yearless_mention(self, keys: set[str], words: list[str], stems: list[str], i: int, n: int,
                          day: date) -> _Mention:
        """A name without its year: the year written next to it, else the only open call of that name."""
        shown = " ".join(words[i:i + n])
        if len(keys) == 1:
            return _Mention(frozenset(keys), shown)
        for j in (i + n, i + n + 1, i - 1):
            if 0 <= j < len(stems) and _YEAR.fullmatch(stems[j]):
                year = int(stems[j])
                dated = {k for k in keys if self.calls[k].year == year} or keys  # another year: in question
                return _Mention(frozenset(dated), f"{shown} {year}" if j > i else f"{year} {shown}",
                                "année" if len(dated) == 1 else "")
        open_now = {k for k in keys if self.calls[k].is_open_on(day)}
        if len(open_now) == 1:
            return _Mention(frozenset(open_now), shown, "seul ouvert")
        return _Mention(frozenset(keys), shown)

    def ordered(self, keys: Iterable[str], day: date) -> tuple[str, ...]:
        """Codes of these calls, the open ones first, then the most recent."""
        calls = [self.calls[k] for k in set(keys) if k in self.calls]
        calls.sort(key=lambda c: (not c.is_open_on(day), -(c.year or 0), c.code))
        return tuple(c.code for c in calls)


@dataclass(frozen=True)
class CallDetection:
    """The call a question is about (``call``), where it comes from and what was read; or the calls in question."""

    call: KnownCall | None = None
    source: str | None = None
    evidence: str = ""
    detail: str = ""
    #: No call detected: the calls the question may be about (offered to the requester before any answer).
    choices: tuple[str, ...] = ()
    reason: str = ""
    today: date = field(default_factory=date.today)

    @property
    def code(self) -> str | None:
        return self.call.code if self.call else None

    @property
    def is_open(self) -> bool | None:
        return self.call.is_open_on(self.today) if self.call else None

    def explanation(self) -> str | None:
        """The sentence of the decision's explanation (None when nothing about a call was found)."""
        if self.call is not None:
            state = {True: ", ouvert", False: ", fermé", None: ""}[self.is_open]
            how = SOURCES[self.source]
            if self.evidence:
                how += f" (« {self.evidence} »)"
            if self.detail:
                how += f", {self.detail}"
            return f"appel détecté : {self.call.label}{state}, {how}"
        if self.reason:
            return f"appel non déterminé : {self.reason}"
        return None


def detect_call(text: str, catalogue: CallCatalogue, *, today: date, chosen: str | None = None,
                stated: str | None = None, project_call: str | None = None) -> CallDetection:
    """The call the question is about (see the module's docstring for the order and the refusals)."""
    if chosen:
        return CallDetection(catalogue.known(chosen), "choice", today=today)
    mentions = catalogue._mentions(text, today)
    named = {next(iter(m.keys)) for m in mentions if len(m.keys) == 1}
    shared = [m for m in mentions if len(m.keys) > 1]
    context, source = (stated, "form") if stated else (project_call, "project") if project_call else (None, None)
    if context:
        call = catalogue.known(context)
        others = named - {call.key}
        if not others:
            evidence = next((m.words for m in mentions if m.keys == {call.key}), "")
            return CallDetection(call, source, evidence, today=today)
        choices = (call.code, *catalogue.ordered(others, today))
        cited = ", ".join(catalogue.calls[k].code for k in sorted(others))
        return CallDetection(choices=choices, today=today,
                             reason=f"{SOURCES[source]} {call.code}, mais la question cite {cited}")
    if len(named) == 1 and all(named <= m.keys for m in shared):
        key = next(iter(named))
        mention = next(m for m in mentions if m.keys == {key})
        detail = "seul appel ouvert de ce nom" if mention.resolved_by == "seul ouvert" else ""
        return CallDetection(catalogue.calls[key], "text", mention.words, detail, today=today)
    if len(named) > 1:
        choices = catalogue.ordered(named, today)
        return CallDetection(choices=choices, today=today,
                             reason=f"la question cite plusieurs appels ({', '.join(choices)})")
    if shared:
        keys = named.union(*(m.keys for m in shared))
        choices = catalogue.ordered(keys, today)
        return CallDetection(choices=choices, today=today,
                             reason=f"« {shared[0].words} » désigne plusieurs appels ({', '.join(choices)})")
    return CallDetection(today=today)


# --- The catalogue, cached per process ----------------------------------------------------------------------

CALLS = "expert.calls"


def _load_catalogue(session: Session) -> CallCatalogue:
    """The described calls, then the calls only projects name (code, name and year from the projects)."""
    calls = [KnownCall(code=c.code, name=c.name or "", acronyms=tuple(c.acronyms or ()),
                       aliases=tuple(c.aliases or ()), year=c.year, opens_on=c.opens_on, closes_on=c.closes_on,
                       state=c.state)
             for c in session.scalars(sa.select(Call).order_by(Call.code))]
    rows = session.execute(sa.select(Project.call_code, sa.func.max(Project.call_name), sa.func.max(Project.call_year))
                           .group_by(Project.call_code).order_by(Project.call_code))
    calls += [KnownCall(code=code, name=name or "", year=year) for code, name, year in rows if code]
    return CallCatalogue(calls)


refcache.register(CALLS, _load_catalogue, Call, (Project, ["call_code", "call_name", "call_year"]))


def call_catalogue() -> CallCatalogue:
    """Every known call (read-only; no statement while the process's copy is current)."""
    return refcache.get(CALLS)


def selectable_calls(today: date) -> list[KnownCall]:
    """The described calls a requester may choose on the form: open ones first, then upcoming, then closed."""
    rank = {CallState.OPEN: 0, CallState.UPCOMING: 1}
    described = [c for c in call_catalogue().calls.values() if c.state is not None]
    return sorted(described, key=lambda c: (0 if c.is_open_on(today) else rank.get(c.state, 1) + 1,
                                            -(c.year or 0), c.name or c.code))
