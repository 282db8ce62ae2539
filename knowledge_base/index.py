"""The in-memory matching index of published articles, rebuilt in the background when the base changes.

Every article change bumps a version row (``kb_state``) in the same transaction. Each worker keeps one
:class:`IndexSnapshot`; at most every ``KB_REFRESH_SECONDS`` (immediately after a change made in the
current session) it compares the stored version and today's date with its snapshot's, and when they
differ it builds a new index in a background thread and swaps the reference. Requests keep searching
the old snapshot meanwhile; only the very first search of a process waits for a build.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask, current_app, g

from crm.core.extensions import db, utcnow
from knowledge_base.documents.search import PassageMatch, offered_passage_entries, passage_match
from knowledge_base.evaluation import EvaluationInputError, LabelledQuery, load_queries
from knowledge_base.fusion import QUERY_CHARS, FusedIndex, calibrate_on_phrasings, passage_texts
from knowledge_base.matcher import Entry, Match, MatchIndex
from knowledge_base.models import Article, calls_apply
from knowledge_base.semantic import embed_missing, load_encoder, text_hash
from knowledge_base.services import current_kb_version, offered_articles_query
from knowledge_base.vectors import stored_vectors

__all__ = [
    "IndexService",
    "IndexSnapshot",
    "get_index",
    "index_service",
    "lexical_only",
    "semantic_active",
    "offered_entries",
    "refresh_index",
    "offered_article",
    "search_articles",
    "search_entries",
    "search_passages",
    "today",
]

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
EXTENSION_KEY = "guichet.kb_index"
# Below this many labelled questions about the indexed articles, the matcher's default calibration is kept.
MIN_CALIBRATION_QUERIES = 30

Key = tuple[int, str, date]  # (version, token, day the validity dates were applied)

#: Set by lexical_only(): searches of this context use the lexical channel of a fused index.
_LEXICAL_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("kb_lexical_only", default=False)


@contextmanager
def lexical_only() -> Iterator[None]:
    """Within the block, article and passage searches use the lexical channel alone, with its own calibration
    (no query is embedded): a submission matches this way and leaves the semantic channel to a second look
    after its commit (tickets.triage.second_looks)."""
    token = _LEXICAL_ONLY.set(True)
    try:
        yield
    finally:
        _LEXICAL_ONLY.reset(token)


def _channel(index: MatchIndex | FusedIndex) -> MatchIndex | FusedIndex:
    """The index a search of this context uses: the lexical channel alone inside lexical_only()."""
    return index.lexical if isinstance(index, FusedIndex) and _LEXICAL_ONLY.get() else index


def today() -> date:
    """Return today's date in Paris, the day the validity dates of articles refer to."""
    return datetime.now(PARIS).date()


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """One built index and the knowledge-base state it reflects."""

    index: MatchIndex | FusedIndex
    key: Key
    built_at: datetime
    build_seconds: float
    #: The passages of the call documents offered (fused as the articles' index when KB_SEMANTIC is on and every
    #: passage has its vectors, else lexical), searched when no article is confident.
    passages: MatchIndex | FusedIndex | None = None
    #: The passages' entries by id (what a result is read from).
    passage_entries: dict[str, Entry] | None = None

    @property
    def version(self) -> int:
        return self.key[0]


def article_entry(article: Article) -> Entry:
    """Return the matcher's view of an article."""
    return Entry(
        id=article.external_id,
        question=article.question,
        answer=article.answer,
        phrasings=tuple(article.phrasings or ()),
        topic=article.topic,
        meta={"calls": list(article.calls or ()), "language": article.language, "pk": article.id},
    )


def offered_entries(day: date) -> list[Entry]:
    """Return the entries of every article published and valid on ``day``, in a stable order."""
    articles = db.session.scalars(offered_articles_query(day).order_by(Article.id))
    return [article_entry(a) for a in articles]


def _current_key() -> Key:
    """Read the knowledge-base version with the current session and add today's date."""
    version, token = current_kb_version()
    return version, token, today()


def _load(day: date) -> tuple[Key, list[Entry]]:
    """Read the version then the offered entries (within the current session)."""
    version, token = current_kb_version()
    return (version, token, day), offered_entries(day)


class IndexService:
    """Holds the current snapshot of one process and refreshes it without blocking searches."""

    def __init__(self, app: Flask, *, background: bool = True, refresh_seconds: float = 5.0,
                 loader: Callable[[date], tuple[Key, list[Entry]]] = _load,
                 clock: Callable[[], float] = time.monotonic,
                 passage_loader: Callable[[date], list[Entry]] | None = None) -> None:
        """Configure the service; nothing is built until the first search (``passage_loader``: the documents'
        passages, read from the database by default, none with another ``loader``)."""
        self.app = app
        self.passage_loader = passage_loader or (offered_passage_entries if loader is _load else lambda day: [])
        self.background = background
        self.refresh_seconds = refresh_seconds
        self.loader = loader
        self.clock = clock
        self._snapshot: IndexSnapshot | None = None
        self._last_check = float("-inf")
        self._lock = threading.Lock()  # guards _thread and the first build
        self._thread: threading.Thread | None = None
        self._calibration_queries: list[LabelledQuery] | None = None
        self._warmed = False
        self.builds = 0
        self.semantic_pending = False  # the last build lacked vectors: a background rebuild will add them

    # -- reading -----------------------------------------------------------------------------

    @property
    def snapshot(self) -> IndexSnapshot | None:
        """Return the current snapshot (None before the first build)."""
        return self._snapshot

    def get(self) -> MatchIndex | FusedIndex:
        """Return the current index, building it now if this process has none yet."""
        snapshot = self._snapshot
        if snapshot is None:
            return self._first_build().index
        self.check()
        return self._snapshot.index  # the new one when a synchronous rebuild just ran

    def check(self, *, force: bool = False) -> bool:
        """Compare the stored version with the snapshot's (throttled); start a rebuild if they differ."""
        now = self.clock()
        changed_here = bool(db.session.info.get("kb_changed"))
        if not (force or changed_here or now - self._last_check >= self.refresh_seconds):
            return False
        self._last_check = now
        key = _current_key()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.key == key:
            return False
        if self.background:
            self._start_thread()
        else:
            self._install(self._build(day=key[2], may_embed=False))
        return True

    # -- building ----------------------------------------------------------------------------

    def _first_build(self) -> IndexSnapshot:
        """Build synchronously (one caller builds, the others wait), or wait for a running warm-up."""
        thread = self._thread
        while thread is not None and thread.is_alive() and self._snapshot is None:
            thread.join(0.05)  # a warm-up installs a first snapshot before it embeds anything
        with self._lock:
            if self._snapshot is None:
                # A request waits for the lexical index only: vectors still missing are computed in the background.
                self._install(self._build(day=today(), may_embed=False))
                self._last_check = self.clock()
        if self.semantic_pending and self.background:
            self._start_thread()
        return self._snapshot

    def _build(self, day: date, *, may_embed: bool = True) -> IndexSnapshot:
        """Load the offered articles with the current session and build a calibrated index.

        With the semantic channel on, the index is fused when every vector it needs is stored or, when
        ``may_embed`` (a background rebuild or a command), computed now; otherwise it is lexical and a
        background rebuild is started.
        """
        started = time.perf_counter()
        key, entries = self.loader(day)
        lexical = MatchIndex.build(entries)
        index: MatchIndex | FusedIndex = lexical
        queries = self._usable_queries(lexical)
        known: dict = {}
        if self.app.config["KB_SEMANTIC"] and entries:
            fused, known = self._fused(lexical, queries, may_embed)
            if fused is None:
                self.semantic_pending = True
            else:
                index, self.semantic_pending = fused, False
        self._calibrate(index, queries, known)
        if index is not lexical:  # searched alone by lexical_only(): its confidence calibrated as without fusion
            self._calibrate(lexical, queries, known)
        passage_entries = self.passage_loader(day)
        passages: MatchIndex | FusedIndex | None = MatchIndex.build(passage_entries) if passage_entries else None
        if passages is not None and self.app.config["KB_SEMANTIC"]:
            # The same channel for the passages: fused when each has its vectors (stored by the kb_embeddings job,
            # or computed now by a background rebuild), else lexical until a background rebuild adds them.
            fused_passages, _known = self._fused(passages, [], may_embed)
            if fused_passages is None:
                self.semantic_pending = True
            else:
                # Passages have no phrasings to calibrate on: the articles' calibration (same features) is reused,
                # and KB_PASSAGE_CONFIDENCE is the threshold for quoting one (docs/semantic.md).
                fused_passages.calibration = index.calibration if isinstance(index, FusedIndex) else None
                passages = fused_passages
        self.builds += 1
        return IndexSnapshot(index=index, key=key, built_at=utcnow(), build_seconds=time.perf_counter() - started,
                             passages=passages, passage_entries={e.id: e for e in passage_entries})

    def _fused(self, lexical: MatchIndex, queries: list[tuple[str, frozenset[str]]],
               may_embed: bool) -> tuple[FusedIndex | None, dict]:
        """Return the fused index over ``lexical``'s entries (None when the encoder or vectors are missing) and
        the vectors it may use, the questions' included."""
        encoder = load_encoder(self.app.config["KB_SEMANTIC_MODEL"])
        if encoder is None:
            return None, {}
        entries = lexical.entries
        questions = [q for q, _ids in queries] if len(queries) >= MIN_CALIBRATION_QUERIES else [
            p for e in entries for p in e.phrasings]
        needed = {text_hash(encoder.name, t): (t, "passage") for t in passage_texts(entries)}
        for question in questions:
            text = question.strip()[:QUERY_CHARS]
            if text:
                needed[text_hash(encoder.name, text, "query")] = (text, "query")
        known = stored_vectors(encoder.name, needed)
        missing = {k: v for k, v in needed.items() if k not in known}
        if missing and not may_embed:
            return None, {}
        for kind in ("passage", "query"):
            known.update(embed_missing(encoder, [t for t, k in missing.values() if k == kind], known, kind=kind))
        return FusedIndex.build(entries, encoder, known, lexical=lexical), known

    def _install(self, snapshot: IndexSnapshot) -> None:
        """Swap the reference (atomic in CPython): searches from now on use the new index."""
        self._snapshot = snapshot
        log.info("knowledge-base index v%s built: %d articles, %d passages (%s) in %.2f s", snapshot.version,
                 len(snapshot.index), len(snapshot.passage_entries or ()),
                 "fused" if isinstance(snapshot.passages, FusedIndex) else "lexical", snapshot.build_seconds)

    def _start_thread(self) -> threading.Thread | None:
        """Start one background rebuild unless one is already running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return None
            self._thread = threading.Thread(target=self._rebuild_in_background, name="kb-index-rebuild",
                                            daemon=True)
            self._thread.start()
            return self._thread

    def _rebuild_in_background(self) -> None:
        """Build with a session of its own (a new application context), then install the snapshot."""
        with self.app.app_context():
            try:
                if self._snapshot is None and self.app.config["KB_SEMANTIC"]:
                    # What is stored first (at worst the lexical index), so that a first search waits little.
                    self._install(self._build(day=today(), may_embed=False))
                    if not self.semantic_pending:
                        return
                self._install(self._build(day=today()))
            except Exception:  # keep answering with the old index; the next check retries
                log.exception("knowledge-base index rebuild failed")
            finally:
                db.session.remove()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running background rebuild; return True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def warm_up(self) -> None:
        """Start the first build in the background, once per process (called before each request)."""
        if self._warmed:
            return
        self._warmed = True
        if self._snapshot is None and self.background:
            self._start_thread()

    # -- calibration -------------------------------------------------------------------------

    def _usable_queries(self, index: MatchIndex) -> list[tuple[str, frozenset[str]]]:
        """Return the labelled questions of KB_CALIBRATION_FILE about indexed articles."""
        ids = {entry.id for entry in index.entries}
        return [(q.query, q.accepted & ids) for q in self._labelled_queries() if q.accepted & ids]

    def _calibrate(self, index: MatchIndex | FusedIndex, usable: list[tuple[str, frozenset[str]]],
                   known: dict) -> None:
        """Fit the confidence on the labelled questions, or (fused index) on the articles' held-out phrasings."""
        try:
            if isinstance(index, FusedIndex) and len(usable) >= MIN_CALIBRATION_QUERIES:
                index.calibrate(usable, known=known, threshold=self.app.config["KB_AUTO_ANSWER_CONFIDENCE"],
                                precision=self.app.config["KB_AUTO_ANSWER_PRECISION"])
            elif len(usable) >= MIN_CALIBRATION_QUERIES:
                index.calibrate(usable)
            elif isinstance(index, FusedIndex) and any(e.phrasings for e in index.entries):
                index.calibration, _computed = calibrate_on_phrasings(index.entries, index.encoder, known)
        except ValueError:  # every top result right (or wrong): keep the default calibration
            log.info("knowledge-base calibration skipped: the questions do not separate")

    def calibration_questions(self) -> list[str]:
        """Return the labelled questions the confidence may be calibrated on (their vectors are stored too)."""
        return [q.query for q in self._labelled_queries()]

    def _labelled_queries(self) -> list[LabelledQuery]:
        """Read the calibration questions once per process."""
        if self._calibration_queries is None:
            path = self.app.config["KB_CALIBRATION_FILE"]
            queries: list[LabelledQuery] = []
            if path and Path(path).is_file():
                try:
                    queries = load_queries(path)
                except EvaluationInputError:
                    log.exception("knowledge-base calibration file unreadable")
            self._calibration_queries = queries
        return self._calibration_queries


# -- module API used by views, the expert module and commands -----------------------------------


def init_index(app: Flask) -> IndexService:
    """Create the process's index service from the configuration."""
    background = app.config["KB_INDEX_BACKGROUND"]  # None: in a background thread unless testing
    service = IndexService(
        app,
        background=not app.testing if background is None else background,
        refresh_seconds=app.config["KB_REFRESH_SECONDS"],
    )
    app.extensions[EXTENSION_KEY] = service
    app.before_request(service.warm_up)
    return service


def index_service(app: Flask | None = None) -> IndexService:
    """Return the index service of the (current) application."""
    return (app or current_app).extensions[EXTENSION_KEY]


def get_index() -> MatchIndex | FusedIndex:
    """Return the current in-memory index of published, currently valid articles."""
    return index_service().get()


def refresh_index() -> IndexSnapshot:
    """Rebuild the index now in the calling thread, whatever the version says (commands, tests)."""
    service = index_service()
    service.wait()
    snapshot = service._build(day=today())
    service._install(snapshot)
    service._last_check = service.clock()
    return snapshot


def _query_vector(index: MatchIndex | FusedIndex, query: str) -> dict:
    """``{"query_vector": …}`` for a fused index (none for a lexical one): the query is embedded once per request
    and application context, its vector kept (the last one only) for the passages' search of the same text."""
    if not isinstance(index, FusedIndex):
        return {}
    key = (index.encoder.name, query.strip()[:QUERY_CHARS])
    last = g.get("kb_query_vector")
    if last is None or last[0] != key:
        last = (key, index.embed_query(query))
        g.kb_query_vector = last
    return {"query_vector": last[1]}


def search_articles(query: str, k: int = 5, *, call: str | None = None, topic: str | None = None,
                    language: str | None = "fr", min_relative_score: float = 0.0) -> list[tuple[Article, Match]]:
    """Return up to ``k`` (article, match) pairs, best first, among articles offered today.

    ``call`` keeps articles about every call or listing that call; ``topic`` and ``language`` must
    equal the article's (None: any). Articles changed since the index was built are read from the
    database, so an article archived or expired a moment ago is never returned. Results scoring less
    than ``min_relative_score`` times the best one are left out (for lists shown to people).
    """
    if k <= 0 or not query or not query.strip():
        return []
    index = _channel(get_index())
    matches = index.search(query, k=max(4 * k, k + 20), **_query_vector(index, query))
    if not matches:
        return []
    # The best 2k are read first (rows with their texts and JSON lists cost more than the statement); the rest
    # only if filters or articles withdrawn meanwhile left fewer than k.
    offered = offered_articles_query(today(), topic=topic, language=language)
    results: list[tuple[Article, Match]] = []
    floor = 0.0
    for chunk in (matches[:2 * k], matches[2 * k:]):
        if not chunk:
            break
        ids = [m.id for m in chunk]
        articles = {a.external_id: a for a in db.session.scalars(offered.where(Article.external_id.in_(ids)))}
        for match in chunk:
            article = articles.get(match.id)
            if match.score > floor and article is not None and article.applies_to_call(call):
                results.append((article, match))
                floor = max(floor, min_relative_score * results[0][1].score)
                if len(results) == k:
                    return results
    return results


def _entries_by_id(index: MatchIndex | FusedIndex) -> dict[str, Entry]:
    """The index's entries by id, computed once per index (snapshots are immutable)."""
    found = getattr(index, "_entries_by_id", None)
    if found is None:
        found = {entry.id: entry for entry in index.entries}
        index._entries_by_id = found
    return found


def search_entries(query: str, k: int = 5, *, call: str | None = None,
                   language: str | None = "fr") -> list[tuple[Entry, Match]]:
    """Like search_articles, from the index in memory alone (no statement): the entries of the articles offered
    when the snapshot was built (``entry.meta["pk"]``: the article's id). An article withdrawn since may still be
    among them until the next rebuild (KB_REFRESH_SECONDS); read it with offered_article before answering with it."""
    if k <= 0 or not query or not query.strip():
        return []
    index = _channel(get_index())
    by_id = _entries_by_id(index)
    results = []
    for match in index.search(query, k=max(4 * k, k + 20), **_query_vector(index, query)):
        entry = by_id.get(match.id)
        if (match.score > 0 and entry is not None and (language is None or entry.meta.get("language") == language)
                and calls_apply(entry.meta.get("calls"), call)):
            results.append((entry, match))
            if len(results) == k:
                break
    return results


def offered_article(article_id: int) -> Article | None:
    """The article if it is offered today (published, within its validity dates), read now."""
    return db.session.scalar(offered_articles_query(today()).where(Article.id == article_id))


def search_passages(query: str, k: int = 3, *, call: str | None = None) -> list[PassageMatch]:
    """Return up to ``k`` passages of the call documents offered today, best first, from the index in memory (no
    statement); ``call`` leaves out the documents of other calls (a document about every call stays)."""
    if k <= 0 or not query or not query.strip():
        return []
    get_index()  # builds or refreshes the snapshot as an article search does
    snapshot = index_service().snapshot
    passages, entries = snapshot.passages, snapshot.passage_entries
    if passages is None:
        return []
    passages = _channel(passages)
    day = today()
    results = []
    for match in passages.search(query, k=max(4 * k, k + 10), **_query_vector(passages, query)):
        found = passage_match(entries[match.id], match, day=day, call=call)
        if found is not None and match.score > 0:
            results.append(found)
            if len(results) == k:
                break
    return results


def semantic_active() -> bool:
    """Whether searches now use the semantic channel (the current snapshot is fused); builds it if needed."""
    return isinstance(get_index(), FusedIndex)


def best_article(query: str, **filters) -> tuple[Article, Match] | None:
    """Return the best (article, match) for ``query`` or None."""
    results = search_articles(query, k=1, **filters)
    return results[0] if results else None


def index_status() -> dict:
    """Return what the current snapshot holds, for the staff page and health checks."""
    snapshot = index_service().snapshot
    if snapshot is None:
        return {"built": False}
    stored = db.session.scalar(sa.select(sa.func.count()).select_from(offered_articles_query(today()).subquery()))
    return {"built": True, "version": snapshot.version, "articles": len(snapshot.index),
            "offered_in_database": stored, "built_at": snapshot.built_at,
            "build_seconds": round(snapshot.build_seconds, 3), "passages": len(snapshot.passage_entries or ()),
            "semantic": {"articles": isinstance(snapshot.index, FusedIndex),
                         "passages": isinstance(snapshot.passages, FusedIndex)}}
