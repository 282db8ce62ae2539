"""In-memory matching index of knowledge-base entries: TF-IDF on words and characters, fuzzy re-rank."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from knowledge_base.text import content_words, stem_ngrams, tokens, words

__all__ = [
    "DEFAULT_CALIBRATION",
    "Calibration",
    "Entry",
    "Match",
    "MatchConfig",
    "MatchIndex",
    "Matcher",
    "char_ngrams",
]


@dataclass(frozen=True)
class Entry:
    """A knowledge-base entry as the matcher sees it."""

    id: str
    question: str
    answer: str
    phrasings: tuple[str, ...] = ()
    topic: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def question_texts(self) -> list[str]:
        """Return the canonical question followed by the alternative phrasings, blanks left out."""
        texts = [self.question, *self.phrasings]
        return [t.strip() for t in texts if t and t.strip()]


@dataclass(frozen=True, slots=True)
class Match:
    """One search result: entry id, ranking score, confidence and the text that matched best."""

    id: str
    score: float
    confidence: float
    matched_text: str


@runtime_checkable
class Matcher(Protocol):
    """Anything that ranks entry ids for a query (our index, or a baseline in the benchmark)."""

    def search(self, query: str, k: int = 10) -> list[Match]:
        """Return at most ``k`` matches, best first."""
        ...


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Weights of the matcher; the defaults are meant for French FAQs and encyclopaedic passages alike.

    Two TF-IDF channels (sublinear tf, cosine): stemmed content words with their bigrams, and the
    character 3–5-grams of every folded word (typos, inflections); a text scores
    ``word_weight * words + (1 - word_weight) * chars``. Each entry is scored as a whole (questions,
    phrasings, topic and answer as one text); an entry with a question or phrasings also gets a
    question score, the mean of its best single row (canonical question or a phrasing) and of all
    rows as one text, and scores ``max(question_weight * question + (1 - question_weight) * whole,
    whole)``. The ``rerank_depth`` best entries then get ``+ fuzzy_weight * boost``, where ``boost``
    rescales the best rapidfuzz similarity of the query to a question or phrasing from
    [``fuzzy_floor``, 1] to [0, 1] (below the floor, or without questions, no boost). Character
    n-grams found in more than ``max_char_df`` of the entries (" de ") are dropped.
    """

    word_weight: float = 0.4
    question_weight: float = 0.5
    fuzzy_weight: float = 0.1
    fuzzy_floor: float = 0.7
    rerank_depth: int = 30
    max_char_df: float = 0.5
    matched_text_chars: int = 200


@dataclass(frozen=True, slots=True)
class Calibration:
    """Logistic mapping from result features (score, margin, fuzzy) to the probability it is right."""

    intercept: float
    coef_score: float
    coef_margin: float
    coef_fuzzy: float
    n_samples: int = 0

    def probability(self, score: float, margin: float, fuzzy: float) -> float:
        """Return the probability, in [0, 1], that a result with these features is the right entry."""
        z = self.intercept + self.coef_score * score + self.coef_margin * margin + self.coef_fuzzy * fuzzy
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        ez = math.exp(z)
        return ez / (1.0 + ez)

    def to_dict(self) -> dict[str, float | int]:
        """Return a JSON-serialisable dict of the coefficients."""
        return {
            "intercept": self.intercept,
            "coef_score": self.coef_score,
            "coef_margin": self.coef_margin,
            "coef_fuzzy": self.coef_fuzzy,
            "n_samples": self.n_samples,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Build a calibration from :meth:`to_dict` output."""
        return cls(
            intercept=float(data["intercept"]),
            coef_score=float(data["coef_score"]),
            coef_margin=float(data["coef_margin"]),
            coef_fuzzy=float(data.get("coef_fuzzy", 0.0)),
            n_samples=int(data.get("n_samples", 0)),
        )


# Uncalibrated default: confidence 0.5 for a top score of 0.5 with a 0.1 lead over the runner-up and
# a fuzzy similarity of 0.2, rising with each. It is deliberately conservative: on PIAF and on the
# demo FAQ it says 0.15 and 0.42 on average where the top result is right 69 % and 78 % of the time,
# but results above 0.6 were right 96–100 % of the time. Fit a real one with MatchIndex.calibrate()
# on labelled questions before choosing an auto-answer threshold.
DEFAULT_CALIBRATION = Calibration(intercept=-4.0, coef_score=6.0, coef_margin=8.0, coef_fuzzy=1.0)


def char_ngrams(word: str) -> list[str]:
    """Return the character 3- to 5-grams of ``word`` padded with spaces (as scikit-learn's ``char_wb``)."""
    padded = f" {word} "
    size = len(padded)
    if size <= 3:
        return [padded]
    grams = []
    for n in (3, 4, 5):
        if size < n:
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def _count(documents: list[list[str]]) -> tuple[dict[str, int], sp.csr_matrix]:
    """Return the vocabulary (first-seen order) and the term-count CSR matrix of tokenised documents."""
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__  # a new term gets the next id
    indices: list[int] = []
    indptr = [0]
    for document in documents:
        indices.extend(map(vocabulary.__getitem__, document))
        indptr.append(len(indices))
    vocabulary.default_factory = None
    matrix = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(documents), len(vocabulary)),
    )
    matrix.sum_duplicates()
    return dict(vocabulary), matrix


def _weighted(transformer: TfidfTransformer, counts: sp.spmatrix) -> sp.csr_matrix:
    """Return the l2-normalised tf-idf of ``counts`` (which may have no rows)."""
    if counts.shape[0] == 0:
        return sp.csr_matrix(counts.shape, dtype=np.float32)
    return sp.csr_matrix(transformer.transform(counts))


class _Channel:
    """One TF-IDF representation: vocabulary, idf and the term-major weights of each field."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray) -> None:
        """Keep the vocabulary and the idf weights used to vectorise queries."""
        self.vocabulary = vocabulary
        self.idf = idf.astype(np.float32)
        self.fields: list[sp.csr_matrix] = []

    def query_vector(self, terms: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return (term ids, l2-normalised sublinear tf-idf weights) of a query's terms."""
        counts = Counter(self.vocabulary[t] for t in terms if t in self.vocabulary)
        if not counts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        weights = (1.0 + np.log(tf)) * self.idf[ids]
        norm = float(np.sqrt(np.dot(weights, weights)))
        return ids, weights / norm if norm > 0 else weights


class MatchIndex:
    """Search index over entries: word and character TF-IDF, fuzzy re-rank, calibrated confidence."""

    def __init__(self, entries: Sequence[Entry], config: MatchConfig | None = None) -> None:
        """Store the entries; use :meth:`build` to get a ready index."""
        self.config = config or MatchConfig()
        self.entries: list[Entry] = list(entries)
        self.calibration: Calibration | None = None
        self._question_texts: list[str] = []
        self._question_folded: list[str] = []
        self._question_owner = np.empty(0, dtype=np.int64)
        self._has_questions = np.zeros(len(self.entries), dtype=bool)
        self._segment_entries = np.empty(0, dtype=np.int64)
        self._row_start = np.empty(0, dtype=np.int64)
        self._row_end = np.empty(0, dtype=np.int64)
        self._field_of = np.empty(0, dtype=np.int64)
        self._word: _Channel | None = None
        self._char: _Channel | None = None
        self._postings = sp.csr_matrix((0, 0), dtype=np.float32)
        self._rows = sp.csr_matrix((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        """Return the number of entries."""
        return len(self.entries)

    @classmethod
    def build(cls, entries: Iterable[Entry], config: MatchConfig | None = None) -> MatchIndex:
        """Analyse ``entries`` and return a ready-to-search index."""
        index = cls(list(entries), config)
        duplicates = sorted(i for i, count in Counter(e.id for e in index.entries).items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate entry ids: {', '.join(duplicates[:5])}")
        if index.entries:
            index._build()
        return index

    def _build(self) -> None:
        """Compute the TF-IDF matrices of every channel and field."""
        n = len(self.entries)
        owner: list[int] = []
        for i, entry in enumerate(self.entries):
            for text in entry.question_texts():
                self._question_texts.append(text)
                owner.append(i)
        self._question_owner = np.asarray(owner, dtype=np.int64)
        self._has_questions = np.bincount(self._question_owner, minlength=n) > 0
        self._segment_entries = np.flatnonzero(self._has_questions)
        self._row_start = np.searchsorted(self._question_owner, np.arange(n))
        self._row_end = np.searchsorted(self._question_owner, np.arange(n), side="right")
        self._field_of = np.zeros(n, dtype=np.int64)
        self._field_of[self._segment_entries] = np.arange(len(self._segment_entries))
        # Rows of questions map to their entry, to add question terms to the entry-level document.
        rows_to_entries = sp.csr_matrix(
            (np.ones(len(owner), dtype=np.float32), (self._question_owner, np.arange(len(owner)))),
            shape=(n, len(owner)),
        )
        entry_words = [words(self._entry_text(e)) for e in self.entries]
        row_words = [words(t) for t in self._question_texts]
        question_tokens = [content_words(w, keep_question_words=True) for w in row_words]
        self._question_folded = [" ".join(t) for t in question_tokens]
        self._word = self._channel(
            [stem_ngrams(content_words(w)) for w in entry_words] + [stem_ngrams(t) for t in question_tokens],
            n,
            rows_to_entries,
            max_df=1.0,
        )
        # Character n-grams are taken on every word, stop words included, like scikit-learn's char_wb.
        self._char = self._fit_chars(entry_words + row_words, n, rows_to_entries)
        # One term-major matrix for both channels (word terms, then character n-grams, each scaled by
        # its weight) and both entry-level fields (columns: whole entries, then question fields), so
        # that the first stage is a single sparse slice and product; question rows are kept row-major
        # for the re-ranking of the few candidates.
        weight = self.config.word_weight
        word_entries, word_rows, word_fields = self._word.fields
        char_entries, char_rows, char_fields = self._char.fields
        self._postings = sp.csr_matrix(
            sp.vstack(
                [
                    weight * sp.vstack([word_entries, word_fields]).T,
                    (1 - weight) * sp.vstack([char_entries, char_fields]).T,
                ],
                format="csr",
            ),
            dtype=np.float32,
        )
        self._rows = sp.csr_matrix(
            sp.hstack([weight * word_rows, (1 - weight) * char_rows], format="csr"), dtype=np.float32
        )
        self._word.fields = self._char.fields = []

    @staticmethod
    def _entry_text(entry: Entry) -> str:
        """Return the whole searchable text of an entry: questions, phrasings, topic and answer."""
        return "\n".join([*entry.question_texts(), entry.topic or "", entry.answer])

    def _fit_chars(self, documents: list[list[str]], n_answers: int, rows_to_entries: sp.csr_matrix) -> _Channel:
        """Fit the character 3–5-gram channel on folded words (composed word by word, like char_wb)."""
        word_vocabulary, word_counts = _count(documents)
        gram_vocabulary, word_grams = _count([char_ngrams(w) for w in word_vocabulary])  # ids in order
        counts = sp.csr_matrix(word_counts @ word_grams)
        return self._from_counts(
            gram_vocabulary, counts, n_answers, rows_to_entries, max_df=self.config.max_char_df
        )

    def _channel(
        self, documents: list[list[str]], n_answers: int, rows_to_entries: sp.csr_matrix, max_df: float
    ) -> _Channel:
        """Count terms of the answer documents then the question rows, and fit a channel on them."""
        vocabulary, counts = _count(documents)
        return self._from_counts(vocabulary, counts, n_answers, rows_to_entries, max_df=max_df)

    def _from_counts(
        self,
        vocabulary: Mapping[str, int],
        counts: sp.csr_matrix,
        n_answers: int,
        rows_to_entries: sp.csr_matrix,
        max_df: float,
    ) -> _Channel:
        """Fit idf on entry-level documents, drop too common terms, weight and store both fields."""
        answer_counts, question_counts = counts[:n_answers], counts[n_answers:]
        entry_counts = sp.csr_matrix(answer_counts + rows_to_entries @ question_counts)
        n = max(n_answers, 1)
        df = np.bincount(entry_counts.indices, minlength=counts.shape[1])
        if max_df < 1.0:
            # Terms found in most entries barely rank and make the postings long: drop them.
            keep = np.flatnonzero(df <= max(1.0, max_df * n))
            names = np.empty(len(vocabulary), dtype=object)
            for term, j in vocabulary.items():
                names[j] = term
            vocabulary = {term: j for j, term in enumerate(names[keep])}
            answer_counts, question_counts = answer_counts[:, keep], question_counts[:, keep]
            entry_counts = entry_counts[:, keep]
        question_fields = sp.csr_matrix(rows_to_entries @ question_counts)[self._segment_entries]
        if entry_counts.shape[1] == 0:  # nothing but stop words anywhere
            channel = _Channel({}, np.empty(0, dtype=np.float32))
            channel.fields = [sp.csr_matrix(m.shape, dtype=np.float32) for m in (answer_counts, question_counts)]
            channel.fields.append(sp.csr_matrix(question_fields.shape, dtype=np.float32))
            return channel
        transformer = TfidfTransformer(sublinear_tf=True).fit(entry_counts)
        channel = _Channel(dict(vocabulary), transformer.idf_)
        channel.fields = [
            _weighted(transformer, answer_counts),
            _weighted(transformer, question_counts),
            _weighted(transformer, question_fields),
        ]
        return channel

    # -- searching -------------------------------------------------------------------------------

    def _vectorise(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the query's term ids and weights in the combined word + character term space."""
        if self._word is None or self._char is None:
            raise RuntimeError("the index is not built: use MatchIndex.build()")
        query_words = words(query)
        w_ids, w_weights = self._word.query_vector(stem_ngrams(content_words(query_words, keep_question_words=True)))
        c_ids, c_weights = self._char.query_vector([g for w in query_words for g in char_ngrams(w)])
        return np.concatenate([w_ids, c_ids + len(self._word.vocabulary)]), np.concatenate([w_weights, c_weights])

    def _mix(self, question: np.ndarray, whole: np.ndarray) -> np.ndarray:
        """Combine question and whole-entry scores; never below the whole entry's own score."""
        # The mix favours the questions, but a question about a detail of the answer is not penalised
        # by unrelated phrasings.
        weight = self.config.question_weight
        return np.maximum(weight * question + (1 - weight) * whole, whole)

    def _ranked(self, query: str, depth: int, needed: int) -> list[tuple[int, float, float, str]]:
        """Return (entry index, final score, fuzzy, matched text) for the best ``depth`` entries.

        The order is exact for the first ``needed`` results; below them, an entry may miss its fuzzy bonus.
        """
        if not self.entries:
            return []
        ids, weights = self._vectorise(query)
        if ids.size == 0:
            return []
        n = len(self.entries)
        # First stage, every entry: cosine of the whole entry and of its question field.
        cosines = self._postings[ids].T @ weights
        whole, fields = cosines[:n], cosines[n:]
        scores = whole.copy()
        scores[self._segment_entries] = self._mix(fields, whole[self._segment_entries])
        depth = min(depth, n)
        candidates = np.argpartition(-scores, depth - 1)[:depth] if depth < n else np.arange(n)
        with_rows = candidates[self._has_questions[candidates]]
        texts: dict[int, tuple[float, str]] = {}
        if with_rows.size:
            rerank = self._rerank(query, ids, weights, with_rows, whole, fields, needed)
            scores[with_rows], similarity, matched = rerank
            texts = {i: (s, t) for i, s, t in zip(with_rows.tolist(), similarity.tolist(), matched, strict=True)}
        ranked = []
        for i, score in zip(candidates.tolist(), scores[candidates].tolist(), strict=True):
            similarity_i, text = texts.get(i) or (0.0, self._snippet(self.entries[i].answer))
            ranked.append((i, score, similarity_i, text))
        ranked.sort(key=lambda r: (-r[1], r[0]))
        return ranked

    def _rerank(
        self,
        query: str,
        ids: np.ndarray,
        weights: np.ndarray,
        entries: np.ndarray,
        whole: np.ndarray,
        fields: np.ndarray,
        needed: int,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Second stage for candidates with questions: return their scores, fuzzy similarities, matched rows.

        The question score becomes the mean of the best single row's cosine and of the question field's;
        then a close fuzzy match of a question or phrasing adds a bonus.
        """
        starts, ends = self._row_start[entries], self._row_end[entries]
        lengths = ends - starts
        offsets = np.cumsum(lengths) - lengths
        rows = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
        query_vector = np.zeros(self._rows.shape[1], dtype=np.float32)
        query_vector[ids] = weights
        cosines = self._rows[rows] @ query_vector
        question = 0.5 * np.maximum.reduceat(cosines, offsets) + 0.5 * fields[self._field_of[entries]]
        scores = self._mix(question, whole[entries])
        similarity = np.zeros(len(rows))
        query_folded = " ".join(tokens(query, keep_question_words=True))
        weight, floor = self.config.fuzzy_weight, self.config.fuzzy_floor
        if query_folded and weight > 0:
            # The bonus is at most ``weight``: only entries within ``weight`` of the needed-th best
            # score can move into the results, so only their rows are compared.
            threshold = np.sort(scores)[-min(needed, len(scores))] - weight
            eligible = np.flatnonzero(np.repeat(scores >= threshold, lengths))
            folded = [self._question_folded[r] for r in rows[eligible].tolist()]
            # Mean of token_set_ratio (the query's words are a subset of a phrasing) and token_sort_ratio
            # (same words overall, any order), computed in C. A part below 2 * floor - 1 cannot bring
            # the mean above the floor: it counts as 0 (and is cheaper).
            cutoff = max(0.0, 200.0 * floor - 100.0)
            for scorer in (fuzz.token_set_ratio, fuzz.token_sort_ratio):
                similarity[eligible] += process.cdist(
                    [query_folded], folded, scorer=scorer, score_cutoff=cutoff, workers=1
                )[0]
            similarity /= 200.0
        best_similarity = np.maximum.reduceat(similarity, offsets)
        scores = scores + weight * np.clip((best_similarity - floor) / (1.0 - floor), 0.0, None)
        # The matched text is the row closest to the query (cosine first, fuzzy to break ties).
        key = cosines + 1e-3 * similarity
        is_best = key == np.repeat(np.maximum.reduceat(key, offsets), lengths)
        first_best = np.flatnonzero(is_best)
        _, pick = np.unique(np.repeat(np.arange(len(entries)), lengths)[first_best], return_index=True)
        matched = [self._question_texts[r] for r in rows[first_best[pick]].tolist()]
        return scores, best_similarity, matched

    def _snippet(self, answer: str) -> str:
        """Return the beginning of an answer, cut on a word boundary."""
        limit = self.config.matched_text_chars
        if len(answer) <= limit:
            return answer
        return answer[:limit].rsplit(" ", 1)[0] + "…"

    def ranked(self, query: str, depth: int, needed: int = 10) -> list[tuple[int, float, float, str]]:
        """Return (entry position, score, fuzzy, matched text) of the ``depth`` best entries, best first.

        The channel's raw ranking, for a fusion with other channels (``knowledge_base.fusion``).
        """
        return self._ranked(query, depth, needed) if query.strip() else []

    def search(self, query: str, k: int = 10) -> list[Match]:
        """Return the ``k`` best entries for ``query``, best first, each with its confidence."""
        if k <= 0 or not query.strip():
            return []
        ranked = self._ranked(query, max(k, self.config.rerank_depth), needed=max(k, 2))
        calibration = self.calibration or DEFAULT_CALIBRATION
        results = []
        ceiling = 1.0
        ranked = [r for r in ranked if r[1] > 0.0]  # entries sharing nothing with the query
        for position, (i, score, fuzzy, text) in enumerate(ranked[:k]):
            # A lower-ranked result is never shown as more likely right than one above it.
            ceiling = min(ceiling, calibration.probability(score, _margin(ranked, position), fuzzy))
            results.append(Match(id=self.entries[i].id, score=score, confidence=ceiling, matched_text=text))
        return results

    def features(self, query: str) -> tuple[float, float, float] | None:
        """Return (top score, margin to the second, fuzzy of the top) used by the confidence."""
        ranked = self._ranked(query, self.config.rerank_depth, needed=2) if query.strip() else []
        if not ranked:
            return None
        return ranked[0][1], _margin(ranked, 0), ranked[0][2]

    def calibrate(
        self, queries_with_expected_ids: Iterable[tuple[str, str | Iterable[str]]]
    ) -> Calibration:
        """Fit the confidence on labelled (query, expected id or ids) pairs and store it on the index."""
        rows: list[tuple[float, float, float]] = []
        labels: list[int] = []
        for query, expected in queries_with_expected_ids:
            accepted = {expected} if isinstance(expected, str) else set(expected)
            ranked = self._ranked(query, self.config.rerank_depth, needed=2) if query.strip() else []
            if not ranked:
                continue
            rows.append((ranked[0][1], _margin(ranked, 0), ranked[0][2]))
            labels.append(int(self.entries[ranked[0][0]].id in accepted))
        if len(set(labels)) < 2:
            raise ValueError("calibration needs queries whose top result is right and others wrong")
        features = np.asarray(rows, dtype=np.float64)
        target = np.asarray(labels)
        used = [0, 1, 2]
        # Refit without any feature whose weight comes out negative, so confidence never drops when
        # the score, the margin or the fuzzy similarity rises.
        while True:
            model = LogisticRegression(C=10.0, max_iter=1000)
            model.fit(features[:, used], target)
            coef = model.coef_[0]
            negative = [f for f, c in zip(used, coef, strict=True) if c < 0]
            if not negative:
                break
            used = [f for f in used if f not in negative]
            if not used:
                model = None
                break
        values = [0.0, 0.0, 0.0]
        intercept = math.log(target.mean() / (1 - target.mean()))
        if model is not None:
            intercept = float(model.intercept_[0])
            for f, c in zip(used, model.coef_[0], strict=True):
                values[f] = float(c)
        self.calibration = Calibration(
            intercept=intercept,
            coef_score=values[0],
            coef_margin=values[1],
            coef_fuzzy=values[2],
            n_samples=len(labels),
        )
        return self.calibration


def _margin(ranked: Sequence[tuple[int, float, float, str]], position: int) -> float:
    """Return the lead of result ``position`` over the best other result (negative below the top)."""
    score = ranked[position][1]
    if position == 0:
        return score - ranked[1][1] if len(ranked) > 1 else score
    return score - ranked[0][1]
