"""Reference data cached per process, invalidated across processes by a version row per namespace.

Topics, queues, SLA policies and calendars, the triage rule set, the référents' profiles: small tables read on
every request and changed a few times a year. Each unit registers a *namespace* (a loader and the models it
reads, see :func:`register`); :func:`get` returns the process's copy while it is current.

- Every change to a watched model (ORM flush, or an ``insert``/``update``/``delete`` statement run through the
  session) writes a new random token in ``cache_versions`` for the namespace, in the same transaction: a random
  token, not a counter, so that a rolled-back change can never make an old copy look current.
- A process compares its copies' tokens with the stored ones at most once per transaction, and not more often
  than every ``REFERENCE_REFRESH_SECONDS`` (one ``SELECT`` of a few rows): an edit made on one instance is seen
  by every other within that delay. The instance that made the edit drops its copy at commit, and until then
  reads the namespace from its own transaction (uncommitted edits are never cached).
- Loaders run in a session of their own on the request's connection (they see its transaction), and what they
  return is detached from every session: read-only values. Callers that need a row in their own session (to
  set a relationship) use :func:`attach`, which copies it in without a query.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from crm.core.database import dialect_insert, on_transaction_end
from crm.core.extensions import db
from crm.core.models import CacheVersion

__all__ = ["attach", "bump", "clear", "get", "init_app", "register"]

EXTENSION_KEY = "guichet.refcache"
_CHANGED = "refcache.changed"  # session.info: namespaces this transaction changed
_CHECKED = "refcache.checked"  # session.info: the transaction already compared the versions


@dataclass(frozen=True)
class Namespace:
    name: str
    loader: Callable[[Session], Any]
    #: model -> the attributes whose change matters (None: any change, insertion and deletion)
    watched: dict[type, frozenset[str] | None]


_namespaces: dict[str, Namespace] = {}


def register(name: str, loader: Callable[[Session], Any], *watched: type | tuple[type, Iterable[str]]) -> None:
    """Declare a cached namespace: ``loader(session)`` reads it, and a change to any ``watched`` model
    (or, for ``(Model, ["column", ...])``, to one of these attributes of an existing row) invalidates it."""
    spec: dict[type, frozenset[str] | None] = {}
    for item in watched:
        model, attributes = item if isinstance(item, tuple) else (item, None)
        spec[model] = frozenset(attributes) if attributes is not None else None
    _namespaces[name] = Namespace(name, loader, spec)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    values: dict[str, tuple[str | None, Any]] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)
    checked_at: float = float("-inf")
    reads: int = 0  # version reads, for tests and the status page
    loads: int = 0


def _state(app: Flask | None = None) -> _State:
    return (app or current_app).extensions[EXTENSION_KEY]


def clear(app: Flask | None = None) -> None:
    """Forget every copy of this process (tests, or after a restore)."""
    state = _state(app)
    with state.lock:
        state.values.clear()
        state.stored.clear()
        state.checked_at = float("-inf")


def _refresh_versions(state: _State) -> None:
    """Read the stored tokens, at most once per transaction and once per REFERENCE_REFRESH_SECONDS."""
    session = db.session()
    if session.info.get(_CHECKED):
        return
    now = time.monotonic()
    if now - state.checked_at < current_app.config["REFERENCE_REFRESH_SECONDS"]:
        return
    # no autoflush: the tokens are written by Core statements (bump), never pending ORM state, and flushing the
    # request's changes here would split its writes (a ticket updated twice, before and after its SLA columns)
    with session.no_autoflush:
        rows = session.execute(sa.select(CacheVersion.name, CacheVersion.version)).all()
    session.info[_CHECKED] = True
    with state.lock:
        state.stored = {name: version for name, version in rows}
        state.checked_at = now
        state.reads += 1


def _load(namespace: Namespace) -> Any:
    """Run the loader in a private session on the request's connection, and detach what it read."""
    private = Session(bind=db.session.connection(), autoflush=False, expire_on_commit=False)
    try:
        value = namespace.loader(private)
        private.expunge_all()
    finally:
        private.close()
    return value


def get(name: str) -> Any:
    """The namespace's current value (read-only; see :func:`attach`)."""
    namespace = _namespaces[name]
    session = db.session()
    if (session.new or session.dirty or session.deleted) and name in _changed_by_flush(session):
        if session.autoflush:
            session.flush()  # as a query would: the change is written, and the namespace marked changed
        else:
            return _load(namespace)
    if name in session.info.get(_CHANGED, ()):
        return _load(namespace)  # this transaction's own, uncommitted edits: never cached
    state = _state()
    _refresh_versions(state)
    with state.lock:
        stored = state.stored.get(name)
        cached = state.values.get(name)
    if cached is not None and cached[0] == stored:
        return cached[1]
    value = _load(namespace)
    with state.lock:
        state.values[name] = (stored, value)
        state.loads += 1
    return value


def attach(instance):
    """The session's copy of a cached row (no query): for relationships and writes in the current session.

    A row the session already holds is returned as it is (with whatever the session changed in it; what a commit
    expired is filled in from the cache); otherwise a
    copy of the cached values joins the session as a persistent, unchanged row, and so do its loaded many-to-one
    neighbours (a topic's default queue, a policy's calendar). Unlike ``Session.merge``, nothing the session holds
    is ever overwritten by the cached values."""
    if instance is None:
        return None
    state = sa.inspect(instance)
    mapper = state.mapper
    existing = db.session.identity_map.get(state.identity_key)
    if existing is not None:
        held = sa.inspect(existing)
        for key in held.expired_attributes & set(mapper.column_attrs.keys()) & set(state.dict):
            set_committed_value(existing, key, state.dict[key])  # expired by a commit: the cached value is as good
        return existing
    copy = mapper.class_manager.new_instance()
    for attribute in mapper.column_attrs:
        if attribute.key in state.dict:
            set_committed_value(copy, attribute.key, state.dict[attribute.key])
    make_transient_to_detached(copy)
    db.session.add(copy)
    for relationship in mapper.relationships:
        if not relationship.uselist and relationship.key in state.dict:
            set_committed_value(copy, relationship.key, attach(state.dict[relationship.key]))
    return copy


def bump(session: Session, names: Iterable[str]) -> None:
    """Write new tokens for these namespaces in the session's transaction."""
    names = sorted(set(names))  # written again on every change: a rolled-back savepoint may have held the first
    if not names:
        return
    table = CacheVersion.__table__
    connection = session.connection()
    for name in names:
        token = secrets.token_hex(8)
        connection.execute(dialect_insert(table).values(name=name, version=token)
                           .on_conflict_do_update(index_elements=["name"], set_={"version": token}))
    session.info.setdefault(_CHANGED, set()).update(names)


# -- change detection ------------------------------------------------------------------------------------------


def _changed_by_flush(session: Session) -> set[str]:
    """The namespaces a flush of this session would change: a watched model added or deleted, or changed in its
    watched attributes. The session's pending objects are looked at once (a submission asks at every cached read
    while its new ticket waits to be written)."""
    names: set[str] = set()
    added = {type(o) for o in session.new} | {type(o) for o in session.deleted}
    dirty = list(session.dirty)
    for namespace in _namespaces.values():
        for model, attributes in namespace.watched.items():
            if any(issubclass(kind, model) for kind in added) or any(
                    isinstance(obj, model) and _modified(obj, attributes) for obj in dirty):
                names.add(namespace.name)
                break
    return names


def _modified(obj, attributes: frozenset[str] | None) -> bool:
    inspected = sa.inspect(obj)
    if attributes is None:
        return any(a.history.has_changes() for a in inspected.attrs)
    return any(inspected.attrs[a].history.has_changes() for a in attributes)


def _changed_by_statement(statement) -> set[str]:
    table = getattr(statement, "table", None)
    if table is None:
        return set()
    name = getattr(table, "name", None)  # an ORM statement holds an annotated copy of the table
    return {n.name for n in _namespaces.values()
            if any(getattr(getattr(m, "__table__", None), "name", None) == name for m in n.watched)}


def _before_flush(session: Session, _context, _instances) -> None:
    if _namespaces:
        bump(session, _changed_by_flush(session))


def _on_orm_execute(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        names = _changed_by_statement(state.statement)
        if names:
            bump(state.session, names)


def _transaction_ended(session: Session, committed: bool) -> None:
    changed = session.info.pop(_CHANGED, None)
    session.info.pop(_CHECKED, None)
    if changed and committed:
        try:
            state = _state()
        except (RuntimeError, KeyError):  # no application context, or an app without the cache
            return
        with state.lock:
            for name in changed:
                state.values.pop(name, None)
            state.checked_at = float("-inf")


def status(app: Flask | None = None) -> dict:
    """What this process holds: namespaces cached, version reads and loads so far."""
    state = _state(app)
    with state.lock:
        return {"cached": sorted(state.values), "reads": state.reads, "loads": state.loads}


_listening = False


def init_app(app: Flask) -> None:
    """Give the app its process cache and watch every session for changes to registered models."""
    global _listening
    app.extensions[EXTENSION_KEY] = _State()
    if not _listening:
        sa.event.listen(Session, "before_flush", _before_flush)
        sa.event.listen(Session, "do_orm_execute", _on_orm_execute)
        on_transaction_end(_transaction_ended)
        _listening = True
