"""Lexical and semantic channels fused into one ranking, with a confidence calibrated on the fused features.

An entry scores ``lexical + semantic_weight * cosine``: ``lexical`` is the score of the TF-IDF + fuzzy matcher
(0 outside its ``depth`` best entries) and ``cosine`` the best cosine of the query's vector with the entry's
texts (``EntryVectors``). The weight 3.0 was fitted on random halves of PIAF and of the demo questions and
measured on the other halves (docs/semantic.md); E5 cosines lie between about 0.7 and 0.9, so the semantic
channel moves the lexical score by a few tenths, as much as a strong lexical lead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from knowledge_base.matcher import Entry, Match, MatchIndex
from knowledge_base.semantic import Encoder, EntryVectors, embed_missing, entry_texts, text_hash

__all__ = [
    "DEFAULT_FUSED_CALIBRATION",
    "FEATURES",
    "FusedCalibration",
    "FusedIndex",
    "FusionConfig",
    "calibrate_on_phrasings",
    "held_out_phrasings",
    "passage_texts",
]

# Characters of a request given to the encoder: its start says what it is about, and the cost of a query's
# embedding grows with its length (E5 reads 512 tokens at most).
QUERY_CHARS = 1000

# The top result's fused score, its lead over the second, its cosine, its lexical score, its fuzzy similarity,
# and 1 when it is also the first of each channel alone (the channels agree).
FEATURES = ("score", "margin", "semantic", "lexical", "fuzzy", "agree")


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Weight of the semantic channel and how many candidates each channel brings."""

    semantic_weight: float = 3.0
    depth: int = 50


@dataclass(frozen=True, slots=True)
class FusedCalibration:
    """Logistic mapping from the top result's features (see ``FEATURES``) to the probability it is right."""

    intercept: float
    coefs: tuple[float, ...]
    n_samples: int = 0
    source: str = "default"
    shift: float = 0.0  # added to the intercept so that the auto-answer threshold meets the precision aimed at

    def probability(self, features: Sequence[float]) -> float:
        """Return the probability, in [0, 1], that a result with these features is the right entry."""
        z = self.intercept + sum(c * f for c, f in zip(self.coefs, features, strict=True))
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        ez = math.exp(z)
        return ez / (1.0 + ez)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"intercept": self.intercept, "coefs": dict(zip(FEATURES, self.coefs, strict=True)),
                "n_samples": self.n_samples, "source": self.source, "shift": self.shift}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FusedCalibration:
        """Build a calibration from :meth:`to_dict` output."""
        coefs = data["coefs"]
        return cls(float(data["intercept"]), tuple(float(coefs.get(f, 0.0)) for f in FEATURES),
                   int(data.get("n_samples", 0)), str(data.get("source", "default")), float(data.get("shift", 0.0)))


# Used until a calibration is fitted: fitted (fit_calibration, threshold 0.8, precision 0.96) on one half, in random
# order (seed 2026), of the PIAF questions with the default weights. PIAF's paragraphs have no phrasings: a
# knowledge base of FAQ articles gets its own calibration from its phrasings (``held_out_phrasings``) at once.
DEFAULT_FUSED_CALIBRATION = FusedCalibration(intercept=-1.566, coefs=(0.0, 14.601, 0.0, 2.714, 0.0, 0.309),
                                             n_samples=1917, source="default", shift=-0.526)


def _logistic(features: np.ndarray, target: np.ndarray) -> tuple[float, list[float]]:
    """Fit a logistic regression with non-negative weights (a feature whose weight is negative is dropped)."""
    used = list(range(features.shape[1]))
    while used:
        model = LogisticRegression(C=10.0, max_iter=2000).fit(features[:, used], target)
        negative = [f for f, c in zip(used, model.coef_[0], strict=True) if c < 0]
        if not negative:
            coefs = [0.0] * features.shape[1]
            for f, c in zip(used, model.coef_[0], strict=True):
                coefs[f] = float(c)
            return float(model.intercept_[0]), coefs
        used = [f for f in used if f not in negative]
    return math.log(target.mean() / (1 - target.mean())), [0.0] * features.shape[1]


def _lowest_threshold(confidences: np.ndarray, right: np.ndarray, precision: float) -> float | None:
    """Return the lowest confidence t such that the results at or above t are right at ``precision``, else None
    (as ``evaluation.threshold_for_precision``, which imports this module)."""
    order = np.argsort(-confidences, kind="stable")
    values, hits = confidences[order], right[order].astype(np.float64)
    reached = np.cumsum(hits) / np.arange(1, len(hits) + 1) >= precision - 1e-12
    last_of_value = np.r_[values[1:] != values[:-1], True]
    candidates = np.flatnonzero(reached & last_of_value)
    return float(values[candidates[-1]]) if candidates.size else None


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def fit_calibration(rows: Sequence[Sequence[float]], labels: Sequence[int], source: str, *,
                    threshold: float | None = None, precision: float | None = None,
                    folds: int = 5) -> FusedCalibration:
    """Fit the confidence on (features, right) pairs; with ``threshold`` and ``precision``, shift it for the decision.

    The shift: each pair's probability is computed by a fit on the other folds (so never on itself); the lowest
    probability t at which those held-out results reach ``precision`` (``threshold_for_precision``) is then moved
    to ``threshold``, so that answering at or above ``threshold`` keeps that precision (t above ``threshold``:
    more careful; below: more answers). Without such a t, nothing reaches ``threshold``.
    """
    if len(set(labels)) < 2:
        raise ValueError("calibration needs queries whose top result is right and others wrong")
    features = np.asarray(rows, dtype=np.float64)
    target = np.asarray(labels)
    intercept, coefs = _logistic(features, target)
    shift = 0.0
    if threshold is not None and precision is not None:
        order = np.arange(len(target))
        held_out = np.empty(len(target))
        for fold in range(folds):
            test = order % folds == fold
            if len(set(target[~test])) < 2:
                held_out[test] = 1.0 / (1.0 + np.exp(-(intercept + features[test] @ np.asarray(coefs))))
                continue
            b, w = _logistic(features[~test], target[~test])
            held_out[test] = 1.0 / (1.0 + np.exp(-(b + features[test] @ np.asarray(w))))
        chosen = _lowest_threshold(held_out, target, precision)
        chosen = min(max(chosen if chosen is not None else 1.0, 1e-6), 1.0 - 1e-6)
        shift = _logit(threshold) - _logit(chosen)
    return FusedCalibration(intercept + shift, tuple(coefs), len(labels), source, shift)


_Ranked = tuple[int, float, float, float, float, str, float]  # entry, fused, lexical, semantic, fuzzy, text, agree


class FusedIndex:
    """The lexical index and the semantic vectors of the same entries, searched as one matcher."""

    def __init__(self, lexical: MatchIndex, vectors: EntryVectors, encoder: Encoder,
                 config: FusionConfig | None = None) -> None:
        """Keep both channels; ``vectors`` must be in the order of ``lexical.entries``."""
        if vectors.n_entries != len(lexical.entries):
            raise ValueError("the vectors do not belong to these entries")
        self.lexical = lexical
        self.vectors = vectors
        self.encoder = encoder
        self.config = config or FusionConfig()
        self.calibration: FusedCalibration | None = None

    @classmethod
    def build(cls, entries: Sequence[Entry], encoder: Encoder, known: Mapping[str, np.ndarray],
              config: FusionConfig | None = None, lexical: MatchIndex | None = None) -> FusedIndex:
        """Build both channels over ``entries``; texts without a vector in ``known`` get none (see embed_missing)."""
        lexical = lexical or MatchIndex.build(entries)
        texts = [entry_texts(e.question_texts(), e.answer) for e in lexical.entries]
        return cls(lexical, EntryVectors.build(encoder.name, texts, known, encoder.dim), encoder, config)

    @property
    def entries(self) -> list[Entry]:
        return self.lexical.entries

    def __len__(self) -> int:
        """Return the number of entries."""
        return len(self.lexical)

    def embed_query(self, query: str) -> np.ndarray:
        """Return the query's vector (the one call to the encoder per search)."""
        return self.encoder.queries([query.strip()[:QUERY_CHARS]])[0]

    def ranked(self, query: str, query_vector: np.ndarray | None = None) -> list[_Ranked]:
        """Return the candidates of both channels with their fused, lexical and semantic scores, best first."""
        if not query.strip() or not self.entries:
            return []
        depth = min(self.config.depth, len(self.entries))
        lexical = {i: (score, fuzzy, text) for i, score, fuzzy, text in self.lexical.ranked(query, depth)}
        cosines = self.vectors.scores(self.embed_query(query) if query_vector is None else query_vector)
        semantic = np.argpartition(-cosines, depth - 1)[:depth] if depth < len(cosines) else np.arange(len(cosines))
        weight = self.config.semantic_weight
        firsts = {int(np.argmax(cosines)), max(lexical, key=lambda i: (lexical[i][0], -i))} if lexical else set()
        ranked = []
        for i in sorted(set(lexical) | {int(i) for i in semantic if cosines[i] > -1.0}):
            score, fuzzy, text = lexical.get(i) or (0.0, 0.0, self.lexical._snippet(self.entries[i].answer))
            cosine = max(float(cosines[i]), 0.0)
            ranked.append((i, score + weight * cosine, score, cosine, fuzzy, text, float(firsts == {i})))
        ranked.sort(key=lambda r: (-r[1], r[0]))
        return ranked

    @staticmethod
    def _features(ranked: Sequence[_Ranked], position: int) -> tuple[float, ...]:
        """Return the features of result ``position``: its margin is its lead over the best other result."""
        _i, fused, lexical, semantic, fuzzy, _text, agree = ranked[position]
        other = ranked[0][1] if position else (ranked[1][1] if len(ranked) > 1 else 0.0)
        return fused, fused - other, semantic, lexical, fuzzy, agree

    def features(self, query: str, query_vector: np.ndarray | None = None) -> tuple[float, ...] | None:
        """Return the features of the top result, or None without results."""
        ranked = self.ranked(query, query_vector)
        return self._features(ranked, 0) if ranked else None

    def search(self, query: str, k: int = 10, *, query_vector: np.ndarray | None = None) -> list[Match]:
        """Return the ``k`` best entries for ``query``, best first, each with its confidence."""
        if k <= 0 or not query.strip():
            return []
        ranked = self.ranked(query, query_vector)
        calibration = self.calibration or DEFAULT_FUSED_CALIBRATION
        results = []
        ceiling = 1.0
        for position, (i, fused, _lexical, _semantic, _fuzzy, text, _agree) in enumerate(ranked[:k]):
            ceiling = min(ceiling, calibration.probability(self._features(ranked, position)))
            results.append(Match(id=self.entries[i].id, score=fused, confidence=ceiling, matched_text=text))
        return results

    def query_vector(self, query: str, known: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return the query's vector from ``known`` (by text hash, kind "query") or from the encoder."""
        vector = known.get(text_hash(self.encoder.name, query.strip()[:QUERY_CHARS], "query"))
        return self.embed_query(query) if vector is None else vector

    def calibrate(self, queries_with_expected_ids: Iterable[tuple[str, str | Iterable[str]]], *,
                  known: Mapping[str, np.ndarray] | None = None, threshold: float | None = None,
                  precision: float | None = None, source: str = "labelled questions") -> FusedCalibration:
        """Fit the confidence on labelled (query, expected id or ids) pairs and store it on the index.

        The questions' vectors are taken from ``known`` when there (by text hash), else computed; ``threshold``
        and ``precision``: see :func:`fit_calibration`.
        """
        rows, labels = [], []
        for query, expected in queries_with_expected_ids:
            accepted = {expected} if isinstance(expected, str) else set(expected)
            ranked = self.ranked(query, self.query_vector(query, known or {})) if query.strip() else []
            if ranked:
                rows.append(self._features(ranked, 0))
                labels.append(int(self.entries[ranked[0][0]].id in accepted))
        self.calibration = fit_calibration(rows, labels, source, threshold=threshold, precision=precision)
        return self.calibration


def held_out_phrasings(entries: Sequence[Entry], folds: int = 5) -> Iterable[tuple[list[Entry], list[tuple[str, str]]]]:
    """Yield (entries without some phrasings, those phrasings as (query, expected id)) for each of ``folds`` folds.

    Calibrates a knowledge base that has no labelled questions: every ``folds``-th alternative phrasing (the
    canonical question stays) is taken out of its article and asked as a question; each phrasing is held out
    exactly once. Entries keep at least their canonical question, so none disappears.
    """
    held: list[list[tuple[int, int]]] = [[] for _ in range(folds)]
    counter = 0
    for i, entry in enumerate(entries):
        for p in range(len(entry.phrasings)):
            held[counter % folds].append((i, p))
            counter += 1
    for fold in held:
        if not fold:
            continue
        removed: dict[int, set[int]] = {}
        for i, p in fold:
            removed.setdefault(i, set()).add(p)
        kept = [
            Entry(e.id, e.question, e.answer, tuple(t for p, t in enumerate(e.phrasings) if p not in removed[i]),
                  e.topic, e.meta) if i in removed else e
            for i, e in enumerate(entries)
        ]
        yield kept, [(entries[i].phrasings[p], entries[i].id) for i, p in fold]


def passage_texts(entries: Iterable[Entry]) -> list[str]:
    """Return every text of ``entries`` that gets a passage vector."""
    return [t for e in entries for t in entry_texts(e.question_texts(), e.answer)]


def calibrate_on_phrasings(entries: Sequence[Entry], encoder: Encoder, known: Mapping[str, np.ndarray],
                           folds: int = 5, config: FusionConfig | None = None) -> tuple[FusedCalibration,
                                                                                       dict[str, np.ndarray]]:
    """Fit the confidence on the entries' own phrasings held out in turn; return it and the vectors computed.

    ``known`` holds the passage vectors of the entries; the phrasings' query vectors are taken from it too
    (kind "query") or computed. Raises ValueError when there are too few phrasings to separate right and wrong.
    """
    rows: list[tuple[float, ...]] = []
    labels: list[int] = []
    computed: dict[str, np.ndarray] = {}
    for kept, queries in held_out_phrasings(entries, folds):
        index = FusedIndex.build(kept, encoder, known, config)
        new = embed_missing(encoder, [q.strip()[:QUERY_CHARS] for q, _ in queries], {**known, **computed},
                            kind="query")
        computed.update(new)
        for query, expected in queries:
            ranked = index.ranked(query, index.query_vector(query, {**known, **computed}))
            if ranked:
                rows.append(index._features(ranked, 0))
                labels.append(int(index.entries[ranked[0][0]].id == expected))
    return fit_calibration(rows, labels, "held-out phrasings"), computed
