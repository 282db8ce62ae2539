"""Evaluation of a matcher on labelled questions: JSONL readers, metrics and threshold choice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.fusion import QUERY_CHARS, FusedIndex, passage_texts
from knowledge_base.matcher import Entry, Match, Matcher, MatchIndex
from knowledge_base.semantic import Encoder, embed_missing, text_hash

__all__ = [
    "EvaluationInputError",
    "EvaluationResult",
    "LabelledQuery",
    "QueryVectors",
    "evaluate",
    "evaluate_channels",
    "evaluate_files",
    "load_entries",
    "load_queries",
    "outcomes",
    "threshold_for_precision",
]


class EvaluationInputError(ValueError):
    """A knowledge-base or query file that cannot be read; the message says file:line and why."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        """Record where the problem is and format the message as ``file:line: reason``."""
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A question with the entry that answers it and the other acceptable entries."""

    query: str
    expected_id: str
    also_ok: tuple[str, ...] = ()

    @property
    def accepted(self) -> frozenset[str]:
        """Return every entry id counted as a hit."""
        return frozenset((self.expected_id, *self.also_ok))


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """Ranking quality and per-query latency of a matcher on a labelled set."""

    top1: float
    top5: float
    mrr: float
    p50_ms: float
    p99_ms: float
    n_queries: int
    n_entries: int

    def to_dict(self) -> dict[str, float | int]:
        """Return the metrics as a JSON-ready dict (ratios to 4 decimals, milliseconds to 3)."""
        return {
            "top1": round(self.top1, 4),
            "top5": round(self.top5, 4),
            "mrr": round(self.mrr, 4),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "n_queries": self.n_queries,
            "n_entries": self.n_entries,
        }


def _json_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, JSON object) for each non-blank line of a JSONL file."""
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvaluationInputError(path, number, f"invalid JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise EvaluationInputError(path, number, "expected a JSON object")
                yield number, record
    except UnicodeDecodeError:
        raise EvaluationInputError(path, None, "not a UTF-8 text file") from None
    except OSError as exc:
        raise EvaluationInputError(path, None, exc.strerror or "cannot be read") from None


def _string(path: str | Path, number: int, record: dict[str, Any], key: str, *, required: bool) -> str:
    """Return ``record[key]`` as a string, enforcing presence (non-blank) when ``required``."""
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        kind = "missing" if value is None else f"must be a string, not {type(value).__name__}"
        raise EvaluationInputError(path, number, f'"{key}" {kind}')
    if required and not value.strip():
        raise EvaluationInputError(path, number, f'"{key}" is empty')
    return value


def _strings(path: str | Path, number: int, record: dict[str, Any], key: str) -> tuple[str, ...]:
    """Return the optional list of strings ``record[key]`` as a tuple."""
    value = record.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvaluationInputError(path, number, f'"{key}" must be a list of strings')
    return tuple(value)


def load_entries(path: str | Path) -> list[Entry]:
    """Read ``kb.jsonl`` (id, question, answer, meta; optional phrasings, topic, calls)."""
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for number, record in _json_lines(path):
        entry_id = _string(path, number, record, "id", required=True)
        if entry_id in seen:
            raise EvaluationInputError(path, number, f'duplicate id "{entry_id}" (first on line {seen[entry_id]})')
        seen[entry_id] = number
        question = _string(path, number, record, "question", required=False)
        answer = _string(path, number, record, "answer", required=False)
        phrasings = _strings(path, number, record, "phrasings")
        if not (question.strip() or answer.strip() or any(p.strip() for p in phrasings)):
            raise EvaluationInputError(path, number, "entry has no question, phrasing or answer text")
        topic = record.get("topic")
        if topic is not None and not isinstance(topic, str):
            raise EvaluationInputError(path, number, '"topic" must be a string or null')
        meta = record.get("meta", {})
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise EvaluationInputError(path, number, '"meta" must be an object')
        calls = _strings(path, number, record, "calls")
        if calls:
            meta = {**meta, "calls": list(calls)}
        entries.append(Entry(entry_id, question, answer, phrasings, topic or None, meta))
    if not entries:
        raise EvaluationInputError(path, None, "no entries")
    return entries


def load_queries(path: str | Path, known_ids: Iterable[str] | None = None) -> list[LabelledQuery]:
    """Read ``queries.jsonl`` (query, expected_id, optional also_ok), checking ids when given."""
    known = set(known_ids) if known_ids is not None else None
    queries: list[LabelledQuery] = []
    for number, record in _json_lines(path):
        query = _string(path, number, record, "query", required=True)
        expected = _string(path, number, record, "expected_id", required=True)
        if known is not None and expected not in known:
            raise EvaluationInputError(path, number, f'expected_id "{expected}" is not in the knowledge base')
        also_ok = _strings(path, number, record, "also_ok")
        queries.append(LabelledQuery(query, expected, also_ok))
    if not queries:
        raise EvaluationInputError(path, None, "no queries")
    return queries


def evaluate(matcher: Matcher, queries: Sequence[LabelledQuery], n_entries: int | None = None) -> EvaluationResult:
    """Search every query (top 10) and return top-1, top-5, MRR@10 and latency percentiles."""
    if not queries:
        raise ValueError("no queries to evaluate")
    hits1 = hits5 = 0
    reciprocal = 0.0
    latencies = np.empty(len(queries), dtype=np.float64)
    clock = time.perf_counter
    for n, labelled in enumerate(queries):
        start = clock()
        results = matcher.search(labelled.query, k=10)
        latencies[n] = clock() - start
        accepted = labelled.accepted
        rank = next((r for r, match in enumerate(results[:10], start=1) if match.id in accepted), None)
        if rank is not None:
            reciprocal += 1.0 / rank
            hits1 += rank == 1
            hits5 += rank <= 5
    count = len(queries)
    if n_entries is None:
        n_entries = len(matcher) if hasattr(matcher, "__len__") else 0
    return EvaluationResult(
        top1=hits1 / count,
        top5=hits5 / count,
        mrr=reciprocal / count,
        p50_ms=float(np.percentile(latencies, 50)) * 1000.0,
        p99_ms=float(np.percentile(latencies, 99)) * 1000.0,
        n_queries=count,
        n_entries=n_entries,
    )


def evaluate_files(kb_path: str | Path, queries_path: str | Path) -> EvaluationResult:
    """Build an index from a ``kb.jsonl`` file and evaluate it on a ``queries.jsonl`` file."""
    entries = load_entries(kb_path)
    queries = load_queries(queries_path, known_ids=(e.id for e in entries))
    index = MatchIndex.build(entries)
    return evaluate(index, queries, n_entries=len(entries))


def outcomes(matcher: Matcher, queries: Iterable[LabelledQuery]) -> list[tuple[float, bool]]:
    """Return (confidence of the top result, whether it is right) for each query with a result."""
    pairs = []
    for labelled in queries:
        results = matcher.search(labelled.query, k=1)
        if results:
            pairs.append((results[0].confidence, results[0].id in labelled.accepted))
    return pairs


def threshold_for_precision(
    precision: float,
    queries: Iterable[tuple[float, bool]] | Iterable[LabelledQuery],
    matcher: Matcher | None = None,
) -> float | None:
    """Return the lowest confidence threshold whose top-1 precision reaches ``precision``, else None.

    ``queries`` are (confidence, correct) pairs, or labelled queries when ``matcher`` is given (their
    top results are then searched). A result is answered when its confidence is >= the threshold.
    """
    if not 0.0 < precision <= 1.0:
        raise ValueError("precision must be in (0, 1]")
    pairs = (
        outcomes(matcher, queries)  # type: ignore[arg-type]
        if matcher is not None
        else [(float(c), bool(ok)) for c, ok in queries]  # type: ignore[misc]
    )
    if not pairs:
        return None
    confidences = np.asarray([c for c, _ in pairs], dtype=np.float64)
    correct = np.asarray([ok for _, ok in pairs], dtype=np.float64)
    order = np.argsort(-confidences, kind="stable")
    confidences, correct = confidences[order], correct[order]
    answered = np.arange(1, len(pairs) + 1)
    cumulative_precision = np.cumsum(correct) / answered
    # A threshold t answers every result with confidence >= t: only the last of equal values counts.
    last_of_value = np.r_[confidences[1:] != confidences[:-1], True]
    reaching = np.flatnonzero(last_of_value & (cumulative_precision >= precision - 1e-12))
    if reaching.size == 0:
        return None
    return float(confidences[reaching[-1]])


class QueryVectors:
    """A fused index searched with query vectors computed beforehand (once per query for every channel)."""

    def __init__(self, index: FusedIndex, vectors: dict[str, np.ndarray], channel: str = "fusion") -> None:
        """``channel`` is "fusion" (both channels) or "semantic" (the cosine alone)."""
        self.index = index
        self.vectors = vectors
        self.channel = channel

    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: str, k: int = 10) -> list[Match]:
        """Return the ``k`` best entries of the channel."""
        vector = self.vectors[query]
        if self.channel == "fusion":
            return self.index.search(query, k, query_vector=vector)
        cosines = self.index.vectors.scores(vector)
        best = np.argsort(-cosines, kind="stable")[:k]
        return [Match(self.index.entries[i].id, float(cosines[i]), 0.0, "") for i in best if cosines[i] > -1.0]


def load_vector_cache(path: str | Path | None) -> dict[str, np.ndarray]:
    """Read the vectors saved by :func:`save_vector_cache` (none when the file does not exist yet)."""
    if not path or not Path(path).is_file():
        return {}
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def save_vector_cache(path: str | Path, vectors: dict[str, np.ndarray]) -> None:
    """Write vectors by text hash to an ``.npz`` file, so that a data set is embedded once."""
    with open(path, "wb") as handle:
        np.savez(handle, **vectors)


def evaluate_channels(entries: Sequence[Entry], queries: Sequence[LabelledQuery], encoder: Encoder,
                      cache: str | Path | None = None) -> dict[str, EvaluationResult | dict[str, float]]:
    """Evaluate the lexical channel, the semantic channel and their fusion on the same questions.

    Every text and question is embedded once (vectors read from and added to ``cache`` when given); the
    latencies of the channels leave the query's embedding out, reported apart as ``query_embedding``
    (p50/p99 ms, over the questions embedded in this run) with the time to embed an entry's text.
    """
    known = load_vector_cache(cache)
    clock = time.perf_counter
    texts = passage_texts(entries)
    started = clock()
    computed = embed_missing(encoder, texts, known)
    passage_seconds = clock() - started
    known.update(computed)
    query_times: list[float] = []
    vectors: dict[str, np.ndarray] = {}
    for labelled in queries:
        text = labelled.query.strip()[:QUERY_CHARS]
        key = text_hash(encoder.name, text, "query")
        if key not in known:
            started = clock()
            known[key] = encoder.queries([text])[0]
            query_times.append(clock() - started)
        vectors[labelled.query] = known[key]
    if cache and (computed or query_times):
        save_vector_cache(cache, known)
    lexical = MatchIndex.build(entries)
    fused = FusedIndex.build(entries, encoder, known, lexical=lexical)
    results: dict[str, EvaluationResult | dict[str, float]] = {
        "lexical": evaluate(lexical, queries, n_entries=len(entries)),
        "semantic": evaluate(QueryVectors(fused, vectors, "semantic"), queries, n_entries=len(entries)),
        "fusion": evaluate(QueryVectors(fused, vectors), queries, n_entries=len(entries)),
    }
    embedding = {"queries_embedded": len(query_times), "texts_embedded": len(computed)}
    if query_times:
        embedding["p50_ms"] = round(float(np.percentile(query_times, 50)) * 1000.0, 3)
        embedding["p99_ms"] = round(float(np.percentile(query_times, 99)) * 1000.0, 3)
    if computed:
        embedding["ms_per_text"] = round(passage_seconds / len(computed) * 1000.0, 3)
    results["query_embedding"] = embedding
    return results
