"""Stored semantic vectors of the knowledge base's texts, and the job that keeps them up to date.

A vector is stored once per (model, text hash) in ``kb_text_vectors``. The ``kb_embeddings`` job (every
minute when ``KB_SEMANTIC`` is on) embeds the texts of the articles that have none yet, drafts included so that
publishing needs no wait, the passages of the call documents (current versions not expired), plus the questions
the confidence is calibrated on, and deletes the vectors no text uses any more (a replaced version's passages).
The index rebuild, already in a background thread, embeds what is still missing itself; a request never embeds
more than its own question.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from crm.core.database import dialect_insert
from crm.core.extensions import db, utcnow
from knowledge_base.documents.search import unexpired_passage_texts
from knowledge_base.fusion import QUERY_CHARS
from knowledge_base.models import Article, ArticleStatus, TextVector
from knowledge_base.semantic import Encoder, embed_missing, entry_texts, load_encoder, text_hash

__all__ = ["embed_pending", "store_vectors", "stored_vectors", "wanted_texts"]

_CHUNK = 500
PARIS = ZoneInfo("Europe/Paris")  # the day validity dates refer to (as knowledge_base.index.today)


def stored_vectors(model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
    """Return the stored vectors of ``model`` among ``hashes``."""
    wanted = list(dict.fromkeys(hashes))
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = db.session.execute(
            sa.select(TextVector.text_hash, TextVector.vector)
            .where(TextVector.model == model, TextVector.text_hash.in_(wanted[start:start + _CHUNK]))
        )
        for key, blob in rows:
            found[key] = np.frombuffer(blob, dtype="<f4").copy()
    return found


def store_vectors(model: str, vectors: Mapping[str, np.ndarray]) -> int:
    """Insert vectors by text hash (one already stored by another process is left as it is); flush only."""
    rows = [{"model": model, "text_hash": key, "dim": int(v.shape[0]), "created_at": utcnow(),
             "vector": np.asarray(v, dtype="<f4").tobytes()} for key, v in vectors.items()]
    for start in range(0, len(rows), _CHUNK):
        statement = dialect_insert(TextVector.__table__).on_conflict_do_nothing(index_elements=["model", "text_hash"])
        db.session.execute(statement, rows[start:start + _CHUNK])
    return len(rows)


def wanted_texts(model: str, questions: Iterable[str] = (), connection: sa.Connection | Session | None = None,
                 ) -> dict[str, tuple[str, str]]:
    """Return {text hash: (text, kind)} of every text that should have a vector: the texts of the articles not
    archived, their phrasings as questions (the calibration without labels), the passages of the call documents
    (current versions not expired) and the labelled ``questions``."""
    wanted: dict[str, tuple[str, str]] = {}
    connection = connection or db.session
    articles = connection.execute(
        sa.select(Article.question, Article.phrasings, Article.answer).where(Article.status != ArticleStatus.ARCHIVED)
    )
    for question, phrasings, answer in articles:
        for text in entry_texts([question, *(phrasings or ())], answer or ""):
            wanted[text_hash(model, text)] = (text, "passage")
        for phrasing in phrasings or ():
            text = phrasing.strip()[:QUERY_CHARS]
            if text:
                wanted[text_hash(model, text, "query")] = (text, "query")
    for question, passage in unexpired_passage_texts(datetime.now(PARIS).date(), connection):
        for text in entry_texts([question], passage):
            wanted[text_hash(model, text)] = (text, "passage")
    for question in questions:
        text = question.strip()[:QUERY_CHARS]
        if text:
            wanted[text_hash(model, text, "query")] = (text, "query")
    return wanted


def embed_pending(encoder: Encoder | None = None, limit: int | None = None,
                  questions: Iterable[str] = ()) -> dict[str, int]:
    """Embed up to ``limit`` wanted texts without a vector (``questions``: the labelled calibration questions),
    store them and delete unused vectors; flush only."""
    encoder = encoder or load_encoder(current_app.config["KB_SEMANTIC_MODEL"])
    if encoder is None:
        return {"embedded": 0, "deleted": 0}
    # Read on a connection of its own, closed before the embedding: the job's transaction then starts with its
    # writes, so that a long embedding holds no snapshot (on SQLite, a write after a read that other commits
    # overtook fails at once, whatever the busy timeout).
    bind = db.session.get_bind()  # a connection already in a transaction in the tests: read through the session
    with bind.connect() if isinstance(bind, sa.Engine) else contextlib.nullcontext(db.session) as connection:
        wanted = wanted_texts(encoder.name, questions, connection)
        stored = set(connection.scalars(sa.select(TextVector.text_hash).where(TextVector.model == encoder.name)))
    missing = [(key, text, kind) for key, (text, kind) in wanted.items() if key not in stored][:limit]
    computed: dict[str, np.ndarray] = {}
    for kind in ("passage", "query"):
        computed.update(embed_missing(encoder, [t for _k, t, k in missing if k == kind], {}, kind=kind))
    store_vectors(encoder.name, computed)
    unused = [key for key in stored if key not in wanted]
    for start in range(0, len(unused), _CHUNK):
        db.session.execute(sa.delete(TextVector).where(TextVector.model == encoder.name,
                                                       TextVector.text_hash.in_(unused[start:start + _CHUNK])))
    return {"embedded": len(computed), "deleted": len(unused)}
